/** Part 3 of the teeth tests (test/variants-teeth.ts): every variant is caught and upstream is not, every invariant catches a variant. */
import { describeInvariants, describeVariants } from './variants-teeth.ts';

describeVariants(2, 3);
describeInvariants(2, 3);
