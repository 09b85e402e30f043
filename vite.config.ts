import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

/** Debian's Chromium; Playwright's own browser downloads are not available here. */
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.browser.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'chromium',
          // `*.both.test.ts` run in Node and in Chromium; `*.browser.test.ts` only in Chromium.
          include: ['test/**/*.browser.test.ts', 'test/**/*.both.test.ts'],
          // WebRTC tests need the flags and permission of the `chromium-webrtc` project below.
          exclude: ['test/**/webrtc*.browser.test.ts'],
          testTimeout: 30_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'chromium-webrtc',
          // Chromium offers 127.0.0.1 candidates (not mDNS names) only with this flag and a
          // granted media permission: WebRTC tests then need nothing but loopback.
          include: ['test/**/webrtc*.browser.test.ts'],
          testTimeout: 30_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: chromiumPath, args: [...chromiumArgs, '--allow-loopback-in-peer-connection'] },
              contextOptions: { permissions: ['microphone'] },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
});
