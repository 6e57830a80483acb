/** Part 2 of the teeth tests (test/variants-teeth.ts): every variant is caught and upstream is not, every invariant catches a variant. */
import { describeInvariants, describeVariants } from './variants-teeth.ts';

describeVariants(1, 3);
describeInvariants(1, 3);
