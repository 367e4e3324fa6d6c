import type { RequestKind } from "@/lib/gateway/core/types";

/**
 * Kind of each top-level statement type, before nested facts (CTEs, locks, functions) raise
 * it. Statement types that need a closer look (SELECT, EXPLAIN, COPY, SET, transaction
 * control, PREPARE, ...) are handled in statement.ts; a type in neither place is "unknown",
 * so a parser upgrade that adds a statement fails closed.
 */

/** Most dangerous last. A multi-statement string takes the most dangerous of its parts. */
export const KIND_ORDER: readonly RequestKind[] = ["read", "write", "ddl", "admin", "unknown"];

export function maxKind(a: RequestKind, b: RequestKind): RequestKind {
  return KIND_ORDER.indexOf(a) >= KIND_ORDER.indexOf(b) ? a : b;
}

const READ = [
  "VariableShowStmt",
  "ListenStmt",
  "UnlistenStmt",
  "FetchStmt",
  "ClosePortalStmt",
  "DeallocateStmt",
];

const WRITE = [
  "InsertStmt",
  "UpdateStmt",
  "DeleteStmt",
  "MergeStmt",
  "TruncateStmt",
  "LockStmt",
  // Delivers a payload to every listening session: a write, and a channel data can leave by.
  "NotifyStmt",
  "RefreshMatViewStmt",
];

/** Schema objects inside one database. */
const DDL = [
  "CreateStmt",
  "CreateTableAsStmt",
  "CreateSchemaStmt",
  "AlterTableStmt",
  "ReplicaIdentityStmt",
  "AlterCollationStmt",
  "AlterDomainStmt",
  "GrantStmt",
  "AlterDefaultPrivilegesStmt",
  "CreateForeignTableStmt",
  "ImportForeignSchemaStmt",
  "CreatePolicyStmt",
  "AlterPolicyStmt",
  "CreateTrigStmt",
  "CreateSeqStmt",
  "AlterSeqStmt",
  "DefineStmt",
  "CreateDomainStmt",
  "CreateOpClassStmt",
  "CreateOpFamilyStmt",
  "AlterOpFamilyStmt",
  "DropStmt",
  "CommentStmt",
  "SecLabelStmt",
  "IndexStmt",
  "CreateStatsStmt",
  "AlterStatsStmt",
  "CreateFunctionStmt",
  "AlterFunctionStmt",
  "RenameStmt",
  "AlterObjectDependsStmt",
  "AlterObjectSchemaStmt",
  "AlterOwnerStmt",
  "AlterOperatorStmt",
  "AlterTypeStmt",
  "RuleStmt",
  "CompositeTypeStmt",
  "CreateEnumStmt",
  "CreateRangeStmt",
  "AlterEnumStmt",
  "ViewStmt",
  "CreateConversionStmt",
  "CreateCastStmt",
  "CreateTransformStmt",
  "AlterTSDictionaryStmt",
  "AlterTSConfigurationStmt",
  "CreatePublicationStmt",
  "AlterPublicationStmt",
];

/**
 * Cluster-level objects, roles, server configuration, maintenance, and statements that install
 * code or open connections out of the database. These are "CREATE/ALTER/DROP" too, but
 * classifying them as ddl would let a schema-migration permit create superusers or load C code.
 */
const ADMIN = [
  "AlterSystemStmt",
  "CreatedbStmt",
  "AlterDatabaseStmt",
  "AlterDatabaseRefreshCollStmt",
  "AlterDatabaseSetStmt",
  "DropdbStmt",
  "CreateRoleStmt",
  "AlterRoleStmt",
  "AlterRoleSetStmt",
  "DropRoleStmt",
  "GrantRoleStmt",
  "DropOwnedStmt",
  "ReassignOwnedStmt",
  "CreateTableSpaceStmt",
  "DropTableSpaceStmt",
  "AlterTableSpaceOptionsStmt",
  "AlterTableMoveAllStmt",
  "CreateSubscriptionStmt",
  "AlterSubscriptionStmt",
  "DropSubscriptionStmt",
  "CreateEventTrigStmt",
  "AlterEventTrigStmt",
  "CreateExtensionStmt",
  "AlterExtensionStmt",
  "AlterExtensionContentsStmt",
  "CreateFdwStmt",
  "AlterFdwStmt",
  "CreateForeignServerStmt",
  "AlterForeignServerStmt",
  "CreateUserMappingStmt",
  "AlterUserMappingStmt",
  "DropUserMappingStmt",
  "CreatePLangStmt",
  "CreateAmStmt",
  "VacuumStmt",
  "ClusterStmt",
  "ReindexStmt",
  "CheckPointStmt",
  "DiscardStmt",
  "LoadStmt",
];

/** Run code the statement does not show: procedures, anonymous blocks. */
const UNKNOWN = ["DoStmt", "CallStmt", "PLAssignStmt", "ReturnStmt"];

export const BASE_KIND: ReadonlyMap<string, RequestKind> = new Map<string, RequestKind>([
  ...READ.map((t): [string, RequestKind] => [t, "read"]),
  ...WRITE.map((t): [string, RequestKind] => [t, "write"]),
  ...DDL.map((t): [string, RequestKind] => [t, "ddl"]),
  ...ADMIN.map((t): [string, RequestKind] => [t, "admin"]),
  ...UNKNOWN.map((t): [string, RequestKind] => [t, "unknown"]),
]);
