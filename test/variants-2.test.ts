/** Part 2 of the variant tests (test/variants-teeth.ts): every variant is caught, upstream is not. */
import { describeVariants } from './variants-teeth.ts';

describeVariants(1, 2);
