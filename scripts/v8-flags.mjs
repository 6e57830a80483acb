// V8 flags for a process that runs the model for long (check, bench, the
// test workers): a young generation large enough that the model's
// short-lived objects (spans, extents, bios, step results) die there
// instead of being promoted and swept again.  Garbage collection was about
// a fifth of the model's time with Node's default 16 MiB semi-spaces.
export const V8_FLAGS = ['--max-semi-space-size=64'];
