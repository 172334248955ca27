import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function ssmax(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['cli/bin/ssmax.mjs', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ssmax command', () => {
  it('prints the overview for --help and exits 0', () => {
    const r = ssmax('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: ssmax <command>');
  });

  it('refuses an unknown command with one line and exit code 2', () => {
    const r = ssmax('no-such-command');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('unknown command "no-such-command"');
  });

  it('exits 2 with usage when called without a command', () => {
    const r = ssmax();
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('commands:');
  });
});
