import { APPS, REGISTRY_FILE, registryPortsInCode } from './support/apps.js';

describe('app ports', () => {
  it('are distinct', () => {
    expect(new Set(APPS.map((a) => a.port)).size).toBe(APPS.length);
  });

  it('are spelled in code only by the service registry (everything else reads it)', () => {
    expect(registryPortsInCode().map((p) => `${p.at}: ${p.port}`)).toEqual([]);
  });

  it('are found by that scan where they are spelled (the registry itself)', () => {
    // Guards the scan: a broken file walk or pattern would make the test above pass vacuously.
    const inRegistry = registryPortsInCode(null).filter((p) => p.at.startsWith(`${REGISTRY_FILE}:`));
    expect(new Set(inRegistry.map((p) => p.port))).toEqual(new Set(APPS.map((a) => a.port)));
  });
});
