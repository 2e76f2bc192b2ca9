import type { Database } from '@taskgraph/runtime';
import { runStatement } from '@taskgraph/runtime';

/** A log head seen in one snapshot, final once every transaction running in that snapshot ended. */
interface Candidate {
  head: bigint;
  /** Greatest xid running in that snapshot (undefined: none ran, the head was final at once). */
  xipMax: bigint | undefined;
}

interface Observation {
  xmin: string;
  xip_max: string | null;
  head: string;
}

/**
 * The log horizon (docs/ARCHITECTURE.md §3 "Log order"): the greatest `seq` up to which
 * `bus.outbox` is final — no row with a `seq` at or below it can still become visible. Producers
 * append without a lock, so rows commit out of `seq` order; readers go up to the horizon only,
 * in `seq` order, and never skip a row committed late.
 *
 * Why it is safe. `bus.next_seq()` gives a transaction its xid before it draws a `seq`, and
 * `nextval` hands numbers out in time order. Take a snapshot S and let `head` be the greatest
 * `seq` visible in S. Any `seq` ≤ `head` was drawn before `head` was, so before S, by a
 * transaction that already had its xid: in S that transaction is either finished (its rows are
 * visible, or it aborted) or still running, and its xid is below the next xid to be assigned,
 * read after taking S (not merely below the greatest xid `pg_snapshot_xip(S)` lists: a running
 * transaction whose xid is at or above S's xmax is not listed there, and relying on the list
 * skipped such late rows — found by the property test). Once a later snapshot's xmin reaches
 * that next xid, all of those have ended, and every row with a
 * `seq` ≤ `head` is visible to every later reader. Transactions that had no xid in S draw their
 * numbers later, above `head`. Per key, order is causal: a producer appends after it read the
 * previous version (which was committed, so its `seq` was drawn earlier).
 *
 * The cost: a row becomes readable once the transactions that were running when it became
 * visible have ended (usually a few milliseconds; a long-running writing transaction anywhere on
 * the server holds every consumer back, and shows as lag). One read-only query per refresh (it
 * assigns no xid and writes no WAL), shared by all the consumers of a process.
 */
export class LogHorizon {
  private safe = 0n;
  private candidates: Candidate[] = [];
  private running: Promise<bigint> | undefined;
  private queued: Promise<bigint> | undefined;

  constructor(private readonly db: Database) {}

  /** The last horizon computed (0 before the first refresh). */
  get known(): bigint {
    return this.safe;
  }

  /** True when visible rows lie above the horizon: it will move once running transactions end. */
  get behind(): boolean {
    return this.candidates.length > 0;
  }

  /**
   * Computes the horizon from a snapshot taken after this call (so a caller woken by a NOTIFY
   * sees that row's effect); concurrent callers share one query.
   */
  refresh(): Promise<bigint> {
    if (!this.running) {
      // A head can only be confirmed by a later snapshot (one whose xmin reached the bound read
      // with it): when the first look leaves it pending, look once more at once, so an idle log is
      // final after one refresh (a new group's `latest` is the head, not 0).
      this.running = this.observe()
        .then((safe) => (this.candidates.length > 0 ? this.observe() : safe))
        .finally(() => {
          this.running = undefined;
        });
      return this.running;
    }
    // One is in flight, started before this call: wait for the next one, shared by every caller queued meanwhile.
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.refresh();
      });
    return this.queued;
  }

  private async observe(): Promise<bigint> {
    // One statement, one snapshot: pg_current_snapshot() is the statement's own snapshot, the one max(seq) is read in.
    const { rows } = await runStatement<Observation>(
      this.db.fork(),
      // `xip_max` bounds every xid assigned before this statement's snapshot: the next xid to be
      // assigned, read after the snapshot (`age()` reads it without assigning one to us, so the
      // observer writes no commit record). The snapshot's own xip list is not enough: a
      // transaction can hold an xid at or above the snapshot's xmax (assigned but not yet below
      // latestCompletedXid) without being listed, and still append a lower seq. When xmin's
      // 32-bit form is a special xid (0-2, once per wraparound) `age()` is meaningless: then the
      // observer's own xid (drawn after the snapshot) is the bound.
      `select x.xmin::text as xmin,
              case when x.xmin % 4294967296 < 3 then pg_current_xact_id()::text
                   else (x.xmin + age(((x.xmin % 4294967296)::text)::xid) - 1)::text
              end as xip_max,
              (select coalesce(max(seq), 0) from bus.outbox)::text as head
         from (select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as xmin) as x`,
      [],
      { prepared: true },
    );
    const row = rows[0];
    if (!row) return this.safe;
    const xmin = BigInt(row.xmin);
    const head = BigInt(row.head);
    const still: Candidate[] = [];
    let safe = this.safe;
    for (const candidate of [...this.candidates, { head, xipMax: row.xip_max === null ? undefined : BigInt(row.xip_max) }]) {
      if (candidate.head <= safe) continue;
      if (candidate.xipMax === undefined || candidate.xipMax < xmin) safe = candidate.head;
      else still.push(candidate);
    }
    this.safe = safe;
    // Oldest first: they confirm first. Bounded: a newer snapshot is taken on every refresh anyway.
    this.candidates = still.filter((c) => c.head > safe).slice(0, 64);
    return safe;
  }
}
