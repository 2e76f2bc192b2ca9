/**
 * Splits a child's output stream into lines and writes each with the service's name in front, so
 * the interleaved logs of several processes stay readable (`tasks         | {...}`), as
 * `kubectl logs --prefix` or docker compose show them.
 */
export function linePrefixer(prefix: string, write: (line: string) => void): { push(chunk: Buffer | string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString();
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        write(`${prefix}${pending.slice(0, newline)}\n`);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    },
    flush() {
      if (pending) write(`${prefix}${pending}\n`);
      pending = '';
    },
  };
}

const COLOURS = [36, 32, 33, 35, 34, 96, 92];

/** `name | ` padded to `width`, coloured per service when `colour` (a terminal). */
export function servicePrefix(name: string, index: number, width: number, colour: boolean): string {
  const label = `${name.padEnd(width)} | `;
  return colour ? `\u001b[${COLOURS[index % COLOURS.length]}m${label}\u001b[0m` : label;
}
