import * as fs from 'fs';
import * as os from 'os';

/** CPUs this process may run on (respects the affinity mask). */
function usableCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

// "0-3,8,10-11" -> [0, 1, 2, 3, 8, 10, 11]
function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a)) continue;
    for (let c = a; c <= (Number.isInteger(b) ? b : a); c++) cpus.push(c);
  }
  return cpus;
}

let cached: number | undefined;

/**
 * Physical cores (hyper-threads of one core counted once), at most the usable CPUs.
 * Decoding streams weights from memory, and a core's sibling thread shares its
 * load bandwidth, so extra threads on the same core only add synchronisation.
 * Falls back to the usable CPU count where Linux's sysfs topology is unavailable.
 */
export function physicalCores(): number {
  if (cached !== undefined) return cached;
  const usable = usableCpus();
  try {
    const online = parseCpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8'));
    const cores = new Set<string>();
    for (const cpu of online) {
      const dir = `/sys/devices/system/cpu/cpu${cpu}/topology`;
      const pkg = fs.readFileSync(`${dir}/physical_package_id`, 'utf8').trim();
      const core = fs.readFileSync(`${dir}/core_id`, 'utf8').trim();
      cores.add(`${pkg}:${core}`);
    }
    cached = Math.max(1, Math.min(usable, cores.size || usable));
  } catch {
    cached = usable;
  }
  return cached;
}
