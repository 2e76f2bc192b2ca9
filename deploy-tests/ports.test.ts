import { APPS, portsDeclaredInCode } from './support/apps.js';

describe('app ports', () => {
  const declared = portsDeclaredInCode();

  it('are distinct', () => {
    expect(new Set(APPS.map((a) => a.port)).size).toBe(APPS.length);
  });

  it('match the defaults declared in the services’ code', () => {
    const mismatches = declared
      .filter((d) => APPS.find((a) => a.id === d.app)?.port !== d.port)
      .map((d) => `${d.at}: ${d.app} → ${d.port}`);
    expect(mismatches).toEqual([]);
  });

  it('are read from the code of the apps that exist so far (at least the gateway and tasks)', () => {
    // If a rename hides a port from portsDeclaredInCode, this fails instead of silently checking nothing.
    const verified = new Set(declared.map((d) => d.app));
    expect(verified.has('gateway') && verified.has('tasks')).toBe(true);
  });
});
