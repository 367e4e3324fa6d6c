export default function Forbidden() {
  return (
    <main className="mx-auto max-w-lg p-10 text-center">
      <h1 className="text-2xl font-semibold">403 — not allowed</h1>
      <p className="mt-2 text-slate-600">Your role does not include this page. Ask an admin if you need it.</p>
      <a className="mt-4 inline-block text-brand underline" href="/connections">Back to connections</a>
    </main>
  );
}
