// A bound on a wait, for rules of the form "promptly": a broken rule fails its test instead of timing it out.

/** Resolves true once `settled` settles, or false after `ms`. */
export function settlesWithin(settled: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    settled.then(done, done);
  });
}
