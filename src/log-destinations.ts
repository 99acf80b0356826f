// Where log lines go (stdout, and AUDIT_LOG_FILE when set), through pino's own destination, and what happens when one fails (SPEC "Request IDs and audit log").
import { fsyncSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pino, type DestinationStream } from 'pino';

export type LogTarget = 'stdout' | 'AUDIT_LOG_FILE';

export interface LogDestinations {
  stdout: DestinationStream;
  /** AUDIT_LOG_FILE's stream; undefined when audit lines go to stdout with the rest. */
  auditFile: DestinationStream | undefined;
  /** `listener` hears, once and asynchronously, of the first destination that could not be written. */
  onFailure(listener: (target: LogTarget, error: NodeJS.ErrnoException) => void): void;
  /** SIGHUP: reopens AUDIT_LOG_FILE by its path, so lines go to a new file once logrotate moved the old one; false when it failed. */
  reopenAuditFile(): boolean;
  /** Before exit: asks the kernel to put the audit file's lines on disk. */
  flush(): void;
}

function writeToStderr(line: string): void {
  try {
    writeSync(2, line);
  } catch {
    // Nowhere is left to write to; the process is already on its way out.
  }
}

/**
 * Sync writes: each line is handed to the kernel by the call that logs it, so nothing waits in a buffer
 * when the process exits, and a failing write is known while its line is still at hand. That line, and
 * every later one, then goes to stderr, so no line is lost while the process drains and exits.
 */
function openGuarded(
  dest: number | string,
  target: LogTarget,
  fail: (target: LogTarget, error: Error) => void,
) {
  // Throws when the file cannot be opened.
  const sonic = pino.destination({ dest, sync: true, append: true, mkdir: false });
  let hasFailed = false;
  const onError = (error: Error) => {
    if (hasFailed) return;
    hasFailed = true;
    fail(target, error);
  };
  sonic.on('error', onError);
  const stream: DestinationStream = {
    write(line: string): void {
      if (!hasFailed) {
        sonic.write(line);
        if (!hasFailed) return;
      }
      writeToStderr(line);
    },
  };
  return {
    stream,
    flush(): void {
      if (hasFailed || typeof dest === 'number') return;
      try {
        // SonicBoom keeps the descriptor it writes to in `fd` (not in its type declarations).
        fsyncSync((sonic as unknown as { fd: number }).fd);
      } catch {
        // The lines are with the kernel already; a disk that refuses fsync fails the next write instead.
      }
    },
    reopen(): boolean {
      if (hasFailed) return false;
      try {
        sonic.reopen();
        return true;
      } catch (error) {
        onError(error as Error);
        return false;
      }
    },
  };
}

/** Opens stdout and, when given, the audit file (appended, created if missing); throws when it cannot be opened. */
export function openLogDestinations(auditLogFile: string | undefined): LogDestinations {
  let listener: ((target: LogTarget, error: NodeJS.ErrnoException) => void) | undefined;
  let failure: { target: LogTarget; error: Error } | undefined;
  let hasNotified = false;
  // Never from inside the log call that failed: the listener starts a shutdown.
  const notify = () =>
    process.nextTick(() => {
      if (hasNotified || listener === undefined || failure === undefined) return;
      hasNotified = true;
      listener(failure.target, failure.error);
    });
  const fail = (target: LogTarget, error: Error) => {
    failure ??= { target, error };
    notify();
  };
  const stdout = openGuarded(1, 'stdout', fail);
  // An absolute path: pino.destination would read an all-digit one as a descriptor, and SIGHUP reopens it by name.
  const audit =
    auditLogFile === undefined ? undefined : openGuarded(resolve(auditLogFile), 'AUDIT_LOG_FILE', fail);
  return {
    stdout: stdout.stream,
    auditFile: audit?.stream,
    onFailure(next) {
      listener = next;
      notify();
    },
    reopenAuditFile: () => audit?.reopen() ?? false,
    flush: () => audit?.flush(),
  };
}
