import { readFileSync, readdirSync } from 'node:fs';

/**
 * Process listing from /proc. Daemons such as Dovecot and Postfix fork workers that are not our
 * children, so "the master exited" does not prove that nothing of the instance is left running;
 * the harness checks the workers themselves after a stop.
 */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** One-letter state from /proc/PID/stat; 'Z' is a zombie (dead, only waiting to be reaped). */
  state: string;
  /** argv joined with spaces; daemons often rewrite it to a descriptive title. */
  cmdline: string;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), pgrp: Number(rest[2]), cmdline };
  } catch {
    return undefined; // exited while we were reading
  }
}

/** Living (not zombie) processes that satisfy the predicate. */
export function findProcesses(match: (p: ProcessInfo) => boolean): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProcess(Number(entry));
    if (info && info.state !== 'Z' && match(info)) found.push(info);
  }
  return found;
}
