/** Types of scripts/v8-flags.mjs. */
export declare const V8_FLAGS: readonly string[];
/** scripts/v8-flags.mjs: the flags of a check --jobs worker that shares the machine with others. */
export declare const WORKER_V8_FLAGS: readonly string[];
