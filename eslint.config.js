// Lint rules, including the layer rules of docs/ARCHITECTURE.md as code:
//   src/core   imports none of src/store, views, src/commands (and no Ink/React)
//   src/store  imports none of views, src/commands
//   views      imports none of src/commands
// and no import cycles anywhere. Formatting is prettier's job (eslint-config-prettier turns
// off the rules it would fight).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import prettier from 'eslint-config-prettier';

const layer = (forbidden, message) => ({
  'no-restricted-imports': ['error', { patterns: forbidden.map((group) => ({ group: [group], message })) }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'native/target/**', 'native/node-pty/**', '.bench-out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx,js,mjs}'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        queueMicrotask: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        structuredClone: 'readonly',
        performance: 'readonly',
        globalThis: 'readonly',
        fetch: 'writable',
        WebAssembly: 'readonly',
        NodeJS: 'readonly',
      },
    },
    plugins: { 'import-x': importX, 'react-hooks': reactHooks },
    settings: { 'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'] },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      'no-control-regex': 'off', // terminal and log grammars are made of control characters
    },
  },
  {
    files: ['views/**/*.{ts,tsx}'],
    rules: {
      ...reactHooks.configs.recommended.rules,
      // Rules for code the React Compiler rewrites; the studio does not use it, and its panes keep
      // scroll anchors in refs read during render on purpose (a frame must not lag a key press).
      'react-hooks/refs': 'off',
      'react-hooks/set-state-in-effect': 'off',
    },
  },
  {
    files: ['src/core/**'],
    rules: layer(
      ['**/store/**', '**/views/**', '**/commands/**', 'ink', 'react', 'ink/*', 'react/*'],
      'src/core is pure and UI-free: it imports none of src/store, views, src/commands, Ink or React.',
    ),
  },
  {
    files: ['src/store/**'],
    rules: layer(['**/views/**', '**/commands/**', 'ink'], 'src/store imports none of views or src/commands.'),
  },
  {
    files: ['views/**'],
    rules: layer(['**/commands/**'], 'views import none of src/commands: move what they need into src/core.'),
  },
  prettier,
);
