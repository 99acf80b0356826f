// At most the adaptive limit of upstream attempts in flight; the rest wait in a FIFO queue (SPEC "Rate-limit-aware retries").
import PQueue from 'p-queue';
import { initialAimd, stepAimd, type AimdSignal } from './aimd.js';
import { quietEvents, type UpstreamEvents } from './upstream-events.js';

export interface ConcurrencyLimiter {
  /**
   * Runs `task` once a slot is free, in arrival order. Aborting `signal` while it is queued removes it
   * without running it (no trace upstream) and rejects with the signal's reason.
   */
  run<T>(task: () => Promise<T>, signal: AbortSignal): Promise<T>;
  /** Feeds one upstream answer to the AIMD step. */
  record(signal: AimdSignal): void;
}

type LimiterEvents = Pick<UpstreamEvents, 'concurrencyLimit' | 'queueLength'>;

/** p-queue is the queue (FIFO, a settable concurrency, per-task abort); the AIMD step moves its concurrency. */
export function createConcurrencyLimiter(
  maxConcurrency: number,
  events: LimiterEvents = quietEvents,
): ConcurrencyLimiter {
  let aimd = initialAimd(maxConcurrency);
  const queue = new PQueue({ concurrency: aimd.limit });
  const reportLength = () => events.queueLength(queue.size);
  for (const event of ['add', 'active', 'next'] as const) queue.on(event, reportLength);
  events.concurrencyLimit(aimd.limit);
  events.queueLength(0);
  return {
    run: (task, signal) => queue.add(task, { signal }),
    record(signal) {
      const before = aimd.limit;
      aimd = stepAimd(aimd, signal, maxConcurrency);
      if (aimd.limit === before) return;
      // Lowering it recalls nothing already in flight; later calls wait until fewer are out.
      queue.concurrency = aimd.limit;
      events.concurrencyLimit(aimd.limit);
    },
  };
}
