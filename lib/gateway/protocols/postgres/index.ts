import { registerProtocol } from "@/lib/gateway/core/registry";
import { PostgresServer } from "./server";

/** Registers the PostgreSQL gateway (GATEHOUSE_PG_PORT, default 15432). */
registerProtocol("postgres", () => new PostgresServer());
