/**
 * Progress reporting for the executor: an updating status line on a TTY
 * (stage, step k/N, rate, ETA), plain lines otherwise.
 *
 * @module
 */

/** Events the executor reports. */
export interface Reporter {
  /** The plan is known: `total` unique instances. */
  begin(total: number, runs: number): void;
  /** Optional: instances per stage name and the parallelism, for a better ETA. */
  plan?(byStage: Map<string, number>, parallel: number): void;
  /** An instance starts computing. */
  start(label: string): void;
  /** Progress inside a computing instance. */
  progress(label: string, done: number, total: number, note?: string): void;
  /** An instance finished (computed or taken from the cache). */
  done(label: string, cached: boolean, seconds: number, why?: string[]): void;
  /** An instance failed. */
  failed(label: string, message: string): void;
  /** A free-form line (warnings, stage logs). */
  line(text: string): void;
  /** Clears any status line. */
  end(): void;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Shared counting for both reporters (a base for other reporters). */
export abstract class CountingReporter implements Reporter {
  /** Instances planned. */
  protected total = 0;
  /** Instances finished (cached, computed or failed). */
  protected finished = 0;
  /** Instances taken from the cache. */
  protected cached = 0;
  /** Instances computed. */
  protected computed = 0;
  /** When the plan began (performance.now()). */
  protected t0: number = performance.now();

  /** Resets the counters for a plan of `total` instances. */
  begin(total: number, _runs: number): void {
    this.total = total;
    this.t0 = performance.now();
  }
  /** An instance starts computing. */
  abstract start(label: string): void;
  /** Progress inside a computing instance. */
  abstract progress(label: string, done: number, total: number, note?: string): void;
  /** Counts a finished instance. */
  done(label: string, cached: boolean, seconds: number): void {
    this.finished++;
    this.see(label, cached, seconds);
    if (cached) this.cached++;
    else this.computed++;
  }
  /** Counts a failed instance. */
  failed(label: string, _message: string): void {
    this.finished++;
    this.see(label, true, 0);
  }
  /** A free-form line. */
  abstract line(text: string): void;
  /** Clears any status line. */
  abstract end(): void;

  /**
   * Remaining time: the remaining instances of each stage at that stage's
   * mean computed time (a long warm start does not inflate the estimate for
   * many short steps); stages not seen yet count at the overall mean.
   */
  protected eta(): number {
    if (this.computed === 0 || this.plannedByStage.size === 0) return NaN;
    // Unseen stages count at the mean of the repeated stages seen so far (a
    // one-off like a warm start says nothing about per-step instances).
    let n = 0;
    let secs = 0;
    for (const [stage, s] of this.seenByStage) {
      if ((this.plannedByStage.get(stage) ?? 0) > 1) {
        n += s.computed;
        secs += s.seconds;
      }
    }
    let left = 0;
    for (const [stage, planned] of this.plannedByStage) {
      const seen = this.seenByStage.get(stage) ?? { n: 0, computed: 0, seconds: 0 };
      const remaining = Math.max(0, planned - seen.n);
      if (remaining === 0) continue;
      if (seen.computed) left += remaining * seen.seconds / seen.computed;
      else if (n) left += remaining * secs / n;
      else return NaN;
    }
    return left / this.parallel;
  }

  /** Tells the reporter how many instances each stage has and how many run at once (for the ETA). */
  plan(byStage: Map<string, number>, parallel = 1): void {
    this.plannedByStage = byStage;
    this.parallel = Math.max(1, parallel);
  }

  /** Instances running at once. */
  protected parallel = 1;

  /** Instances planned per stage. */
  protected plannedByStage: Map<string, number> = new Map();
  /** Per stage: instances finished, computed, and their seconds. */
  protected seenByStage: Map<string, { n: number; computed: number; seconds: number }> = new Map();

  /** Counts a finished instance for its stage (the ETA's input). */
  protected see(label: string, cached: boolean, seconds: number): void {
    // Labels may carry a point prefix (`[hicra s3] update@19`).
    const stage = label.replace(/^\[[^\]]*\] /, "").split("@")[0];
    const s = this.seenByStage.get(stage) ?? { n: 0, computed: 0, seconds: 0 };
    s.n++;
    if (!cached) {
      s.computed++;
      s.seconds += seconds;
    }
    this.seenByStage.set(stage, s);
  }

  /** `[finished/total]`. */
  protected counter(): string {
    const w = String(this.total).length;
    return `[${String(this.finished).padStart(w)}/${this.total}]`;
  }
}

/** Plain lines: one per finished instance; inner progress at most every 10%. */
export class PlainReporter extends CountingReporter {
  #lastTenth = new Map<string, number>();
  /** Writes each line with `write` (default: console.log). */
  constructor(private write: (s: string) => void = (s) => console.log(s)) {
    super();
  }
  /** Nothing: a line is written when the instance finishes. */
  start(_label: string): void {}
  /** Inner progress of a computing instance. */
  progress(label: string, done: number, total: number, note?: string): void {
    const tenth = Math.floor((10 * done) / Math.max(total, 1));
    if ((this.#lastTenth.get(label) ?? -1) >= tenth) return;
    this.#lastTenth.set(label, tenth);
    this.write(`  ${label} ${done}/${total}${note ? ` ${note}` : ""}`);
  }
  /** One line per finished instance (with the ETA), and its miss reasons. */
  override done(label: string, cached: boolean, seconds: number, why?: string[]): void {
    super.done(label, cached, seconds);
    const status = cached ? "cached" : `ran ${fmtDuration(seconds)}`;
    const eta = this.eta();
    this.write(
      `${this.counter()} ${label} ${status}${
        Number.isFinite(eta) && !cached ? ` · ETA ${fmtDuration(eta)}` : ""
      }`,
    );
    for (const w of why ?? []) this.write(`    why: ${w}`);
  }
  /** One line per failed instance. */
  override failed(label: string, message: string): void {
    super.failed(label, message);
    this.write(`${this.counter()} ${label} FAILED: ${message}`);
  }
  /** A free-form line. */
  line(text: string): void {
    this.write(text);
  }
  /** Nothing to clear. */
  end(): void {}
}

/** An updating status line on a terminal, with finished instances scrolling above. */
export class TtyReporter extends CountingReporter {
  #current = "";
  #inner = "";
  #lastDraw = 0;
  #innerStart = 0;
  #enc = new TextEncoder();

  /** Shows the instance on the status line. */
  start(label: string): void {
    this.#current = label;
    this.#inner = "";
    this.#innerStart = performance.now();
    this.#draw(true);
  }
  /** Inner progress of a computing instance. */
  progress(label: string, done: number, total: number, note?: string): void {
    const secs = (performance.now() - this.#innerStart) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = (total - done) / Math.max(rate, 1e-9);
    this.#current = label;
    this.#inner = `${done}/${total} · ${rate.toFixed(1)}/s · ETA ${fmtDuration(eta)}${
      note ? ` · ${note}` : ""
    }`;
    this.#draw(false);
  }
  /** One line per finished instance (with the ETA), and its miss reasons. */
  override done(label: string, cached: boolean, seconds: number, why?: string[]): void {
    super.done(label, cached, seconds);
    if (!cached || why?.length) {
      this.#print(
        `${this.counter()} ${label} ${cached ? "cached" : `ran ${fmtDuration(seconds)}`}`,
      );
      for (const w of why ?? []) this.#print(`    why: ${w}`);
    }
    this.#inner = "";
    this.#draw(true);
  }
  /** One line per failed instance. */
  override failed(label: string, message: string): void {
    super.failed(label, message);
    this.#print(`${this.counter()} ${label} FAILED: ${message}`);
  }
  /** A free-form line. */
  line(text: string): void {
    this.#print(text);
  }
  /** Clears the status line. */
  end(): void {
    Deno.stderr.writeSync(this.#enc.encode("\r\x1b[2K"));
  }
  #print(text: string): void {
    Deno.stderr.writeSync(this.#enc.encode(`\r\x1b[2K${text}\n`));
    this.#draw(true);
  }
  #draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const eta = this.eta();
    const cols = Deno.consoleSize?.().columns ?? 100;
    let text = `${this.counter()} ${this.#current}${
      this.#inner ? ` ${this.#inner}` : ""
    } · ${this.cached} cached${Number.isFinite(eta) ? ` · total ETA ${fmtDuration(eta)}` : ""}`;
    if (text.length > cols - 1) text = text.slice(0, cols - 2) + "…";
    Deno.stderr.writeSync(this.#enc.encode(`\r\x1b[2K${text}`));
  }
}

/** A silent reporter (tests, benches). */
export class SilentReporter implements Reporter {
  begin(_total: number, _runs: number): void {}
  /** Nothing: a line is written when the instance finishes. */
  start(_label: string): void {}
  progress(_label: string, _done: number, _total: number, _note?: string): void {}
  done(_label: string, _cached: boolean, _seconds: number, _why?: string[]): void {}
  failed(_label: string, _message: string): void {}
  line(_text: string): void {}
  /** Nothing to clear. */
  end(): void {}
}

/** The reporter for this process: a status line on a TTY, plain lines otherwise. */
export function defaultReporter(): Reporter {
  return Deno.stderr.isTerminal() ? new TtyReporter() : new PlainReporter();
}
