// @ts-check
// The linter `npm test` runs (typescript-eslint, type-aware): what the
// compiler does not catch — a switch over a union that misses a member, a
// promise nobody awaits, `any` — fails the suite.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'counterexamples/**', 'dist/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The code a check runs at every step.  V8's parser pretenures a function literal assigned
    // straight to a property (`bio.endio = () => ...`): the closure is made in the old generation,
    // and whatever its context reaches then survives every scavenge until the next mark-compact
    // (scripts/v8-flags.mjs, GC_PRETENURED_CLOSURES).  Bind it to a local first.
    files: ['model/**/*.ts', 'oracle/**/*.ts', 'properties/**/*.ts', 'checker/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...['ArrowFunctionExpression', 'FunctionExpression'].flatMap((fn) => [
        `AssignmentExpression[left.type='MemberExpression'] > ${fn}.right`,
        `AssignmentExpression[left.type='MemberExpression'] > TSAsExpression.right > ${fn}`,
      ]).map((selector) => ({ selector, message: 'A function literal assigned straight to a property is pretenured by V8 (old-generation closure: what it reaches survives scavenges). Bind it to a local const first (scripts/v8-flags.mjs, GC_PRETENURED_CLOSURES).' }))],
    },
  },
);
