/** The p-th percentile (0–100) of `xs`, nearest rank; `xs` is left as it was. */
export const pct = (xs: readonly number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
