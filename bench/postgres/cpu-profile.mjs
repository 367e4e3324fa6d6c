// Preloaded with `node --import` (NODE_OPTIONS does not accept --cpu-prof): profiles the whole
// process and writes a .cpuprofile into GATEHOUSE_CPU_PROFILE_DIR when it exits.
import fs from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";

const dir = process.env.GATEHOUSE_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (err, res) => {
      if (!err) fs.writeFileSync(path.join(dir, `gatehouse-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
