// The ≈2 KB page of 10 realistic batches that the stand-in serves and the ceilings copy byte for byte.

const OPERATIONS = ['POST /v3/transactions', 'POST /v3/bank_statements', 'POST /v3/account_holders'];
const STATUSES = ['completed', 'completed', 'processing', 'error'];
const NEWEST_MS = Date.UTC(2026, 9, 31, 18, 0, 0);

/** A fixed linear congruential sequence: the page is the same on every run and machine. */
function createSequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    // The low bits of an LCG repeat quickly; the high ones do not.
    return state >>> 16;
  };
}

function buildBatches(): object[] {
  const next = createSequence(42);
  const hex = (digits: number) => Array.from({ length: digits }, () => (next() % 16).toString(16)).join('');
  return Array.from({ length: 10 }, (_, index) => {
    const createdMs = NEWEST_MS - index * 3_600_000 - (next() % 3_600) * 1000;
    const total = 1 + (next() % 5000);
    const status = STATUSES[next() % STATUSES.length] ?? 'completed';
    return {
      id: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      operation: OPERATIONS[next() % OPERATIONS.length],
      status,
      created_at: new Date(createdMs).toISOString().slice(0, 19),
      updated_at: new Date(createdMs + (next() % 7_200) * 1000).toISOString().slice(0, 19),
      progress: status === 'completed' ? total : next() % total,
      total,
    };
  });
}

const DATA_JSON = JSON.stringify(buildBatches());

/** Ntropy's list shape: `{"next_cursor", "data"}`; only the cursor varies between pages. */
export function renderPage(nextCursor: string | null): string {
  return `{"next_cursor":${JSON.stringify(nextCursor)},"data":${DATA_JSON}}`;
}

/** What the proxy answers for `?limit=10` on a hit, and what both ceilings serve. */
export const FIRST_PAGE = renderPage('eyJhZnRlciI6IjIwMjYtMTAtMzFUMDg6MDA6MDAifQ');
