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

/** Shared counting for both reporters. */
abstract class CountingReporter implements Reporter {
  protected total = 0;
  protected finished = 0;
  protected cached = 0;
  protected computed = 0;
  protected t0 = performance.now();

  begin(total: number, _runs: number): void {
    this.total = total;
    this.t0 = performance.now();
  }
  abstract start(label: string): void;
  abstract progress(label: string, done: number, total: number, note?: string): void;
  done(label: string, cached: boolean, seconds: number): void {
    this.finished++;
    this.see(label, cached, seconds);
    if (cached) this.cached++;
    else this.computed++;
  }
  failed(label: string, _message: string): void {
    this.finished++;
    this.see(label, true, 0);
  }
  abstract line(text: string): void;
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

  protected parallel = 1;

  protected plannedByStage = new Map<string, number>();
  protected seenByStage = new Map<string, { n: number; computed: number; seconds: number }>();

  protected see(label: string, cached: boolean, seconds: number): void {
    const stage = label.split("@")[0];
    const s = this.seenByStage.get(stage) ?? { n: 0, computed: 0, seconds: 0 };
    s.n++;
    if (!cached) {
      s.computed++;
      s.seconds += seconds;
    }
    this.seenByStage.set(stage, s);
  }

  protected counter(): string {
    const w = String(this.total).length;
    return `[${String(this.finished).padStart(w)}/${this.total}]`;
  }
}

/** Plain lines: one per finished instance; inner progress at most every 10%. */
export class PlainReporter extends CountingReporter {
  #lastTenth = new Map<string, number>();
  constructor(private write: (s: string) => void = (s) => console.log(s)) {
    super();
  }
  start(_label: string): void {}
  progress(label: string, done: number, total: number, note?: string): void {
    const tenth = Math.floor((10 * done) / Math.max(total, 1));
    if ((this.#lastTenth.get(label) ?? -1) >= tenth) return;
    this.#lastTenth.set(label, tenth);
    this.write(`  ${label} ${done}/${total}${note ? ` ${note}` : ""}`);
  }
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
  override failed(label: string, message: string): void {
    super.failed(label, message);
    this.write(`${this.counter()} ${label} FAILED: ${message}`);
  }
  line(text: string): void {
    this.write(text);
  }
  end(): void {}
}

/** An updating status line on a terminal, with finished instances scrolling above. */
export class TtyReporter extends CountingReporter {
  #current = "";
  #inner = "";
  #lastDraw = 0;
  #innerStart = 0;
  #enc = new TextEncoder();

  start(label: string): void {
    this.#current = label;
    this.#inner = "";
    this.#innerStart = performance.now();
    this.#draw(true);
  }
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
  override failed(label: string, message: string): void {
    super.failed(label, message);
    this.#print(`${this.counter()} ${label} FAILED: ${message}`);
  }
  line(text: string): void {
    this.#print(text);
  }
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
  start(_label: string): void {}
  progress(_label: string, _done: number, _total: number, _note?: string): void {}
  done(_label: string, _cached: boolean, _seconds: number, _why?: string[]): void {}
  failed(_label: string, _message: string): void {}
  line(_text: string): void {}
  end(): void {}
}

/** The reporter for this process: a status line on a TTY, plain lines otherwise. */
export function defaultReporter(): Reporter {
  return Deno.stderr.isTerminal() ? new TtyReporter() : new PlainReporter();
}
