// The upstream path's own log lines (SPEC "Request IDs and audit log"): warn when a call fails or a pause or hold starts, info when it lifts.
import type { Logger } from 'pino';
import type { UpstreamListener } from './upstream-events.js';

export function createUpstreamLog(logger: Logger): UpstreamListener {
  return {
    callFailed(failure) {
      logger.warn(
        {
          request_id: failure.requestId,
          code: failure.code,
          reason: failure.reason,
          upstream_attempts: failure.attempts,
          upstream_status: failure.upstreamStatus,
          upstream_request_id: failure.upstreamRequestId,
        },
        'upstream call failed',
      );
    },
    pauseStarted(untilMs, nowMs) {
      const until = new Date(untilMs).toISOString();
      logger.warn(
        { pause_ms: untilMs - nowMs, until },
        'upstream calls paused: Ntropy sent 429 with Retry-After',
      );
    },
    pauseEnded() {
      logger.info('upstream pause over');
    },
    quotaHoldStarted(untilMs, nowMs, isRenewal) {
      const until = new Date(untilMs).toISOString();
      logger.warn(
        { hold_ms: untilMs - nowMs, until },
        isRenewal
          ? 'quota hold renewed: Ntropy still refuses'
          : 'quota hold started: Ntropy sent 423 or 429 without Retry-After',
      );
    },
    quotaHoldEnded(reason) {
      logger.info({ reason }, 'quota hold lifted');
    },
  };
}
