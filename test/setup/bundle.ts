/**
 * Global setup: bring the CLI bundle up to date with the sources before the
 * tests that spawn `bin/iospec.mjs` run, so each spawn starts in a fraction
 * of a second and runs exactly the sources under test.
 */
import { buildBundle, bundleIsFresh } from '../../scripts/bundle.mjs';

export default async function setup(): Promise<void> {
  if (!bundleIsFresh()) await buildBundle();
}
