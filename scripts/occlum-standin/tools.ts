// Entry point of the stand-in install's SGX-only tools (bundled by scripts/occlum-standin.mjs into
// <install>/build/lib/standin/tools.mjs; each build/bin wrapper passes its tool name first).
import { genInternalConf } from './gen-internal-conf.ts';
import { protectIntegrity } from './protect-integrity.ts';
import { sefsCli } from './sefs-cli.ts';
import { sgxSign } from './sgx-sign.ts';
import { execClient, execServer, occlumRun } from './run.ts';
import { fail } from './cli.ts';

const [tool, ...args] = process.argv.slice(2);
const tools: Record<string, (a: string[]) => void | Promise<void>> = {
  'sefs-cli': sefsCli,
  'occlum-protect-integrity': protectIntegrity,
  gen_internal_conf: genInternalConf,
  sgx_sign: sgxSign,
  'occlum-run': occlumRun,
  occlum_exec_client: execClient,
  occlum_exec_server: execServer,
};
const run = tools[tool ?? ''];
if (!run) fail(`occlum stand-in: unknown tool ${JSON.stringify(tool ?? '')}`, 2);
Promise.resolve(run(args)).catch((e: Error) => fail(`occlum stand-in ${tool}: ${e.message}`, 1));
