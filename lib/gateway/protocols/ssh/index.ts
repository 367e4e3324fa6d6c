import { registerProtocol } from "@/lib/gateway/core/registry";
import { SshServer } from "./server";

/** Registers the SSH gateway (GATEHOUSE_SSH_PORT, default 2222). */
registerProtocol("ssh", () => new SshServer());
