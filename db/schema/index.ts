export * from "./users";
export * from "./tokens";
export * from "./connections";
export * from "./policies";
export * from "./approvals";
export * from "./sessions";
export * from "./audit";
export * from "./misc";
