// Registers every WebSocket route. New routes add one import line here.
import "./events-route";
import "./session-route";
import "./sql-route";
import "./terminal-route";

export { handleWsUpgrade, closeAllSockets } from "./router";
