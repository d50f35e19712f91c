import { defineConfig } from 'vite';

// One single-page app for the three pages; each service serves it under its own prefix
// (/management, /analysis, /dashboard) and injects <base href="/<page>/">, so asset URLs are
// relative. Pages are split into their own chunks: the management page never loads gridstack.
export default defineConfig({
  base: './',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2020',
    outDir: 'dist',
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` against a running `count-system up` on :8080.
    proxy: {
      '/management/api': 'http://127.0.0.1:8080',
      '/analysis/api': 'http://127.0.0.1:8080',
      '/dashboard/api': 'http://127.0.0.1:8080',
      '/dashboard/events': 'http://127.0.0.1:8080',
      '/api': 'http://127.0.0.1:8080',
    },
  },
});
