// `npm run demo`: the simulator page, served by Vite on 127.0.0.1 (it prints the URL). Nothing is
// fetched from elsewhere: the page and the simulator are bundled from this repository.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  clearScreen: false,
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  build: { outDir: '../dist-demo', emptyOutDir: true, target: 'es2022' },
});
