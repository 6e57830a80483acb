/**
 * How the checks skip what a step cannot have changed.  'on' (the
 * default): the folio checks pass over a file (and the clean-folio check
 * over a folio) that did not change since it passed (properties/folio.ts),
 * and an event check is not called after a step that recorded none of the
 * event types it reads (checker/execute.ts).  'off': every check looks at
 * everything after every step.  'audit' (the tests): incremental, and what
 * would be passed over is looked at anyway: a difference (a file passed
 * over whose folios changed, a skipped check that fails) is a bug of the
 * model or of a check's declaration, and throws.
 */
export type IncrementalMode = 'on' | 'off' | 'audit';

let mode: IncrementalMode = 'on';

export function incrementalMode(): IncrementalMode {
  return mode;
}

export function setIncrementalChecks(m: IncrementalMode): void {
  mode = m;
}
