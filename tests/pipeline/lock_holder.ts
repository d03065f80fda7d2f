/**
 * Test helper: takes the lock of results directory DIR, prints "locked PID",
 * holds it for HOLD_MS (default 60000) and exits normally (releasing it).
 *
 * Usage: deno run -A tests/pipeline/lock_holder.ts DIR [HOLD_MS]
 *
 * @module
 */
import { acquireLock } from "../../pipeline/lock.ts";

const [dir, holdMs = "60000"] = Deno.args;
await acquireLock(dir);
console.log(`locked ${Deno.pid}`);
await new Promise((r) => setTimeout(r, Number(holdMs)));
