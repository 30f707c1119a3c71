// Files `occlum build` writes into build/ from Occlum.json (instance layout in the CLI spec).
// Users open them by mistake, or copy one as a starting point; checked as an Occlum.json they give
// a page of false errors about missing sections. Each is recognised by what only the build writes.
import { findNodeAtLocation, type Node } from 'jsonc-parser';

export interface GeneratedFile {
  /** Where the build writes it, relative to the instance. */
  file: string;
  /** What it holds, for the message. */
  what: string;
}

const ENCLAVE_XML = /^\uFEFF?\s*(<\?xml[^>]*>\s*)?<EnclaveConfiguration\b/;
const MAC = /^[0-9a-f]{2}(-[0-9a-f]{2}){15}$/i;

/** Recognises a generated file from its raw text (the ones that are not JSON). */
export function generatedFromText(text: string): GeneratedFile | undefined {
  if (ENCLAVE_XML.test(text)) return { file: 'build/Enclave.xml', what: "the SGX SDK's enclave settings" };
  if (MAC.test(text.trim()))
    return { file: 'build/mount/.ROOT_MAC (or build/initfs/.ROOT_MAC)', what: 'the MAC of a built SEFS image' };
  return undefined;
}

/** Recognises a generated file from its JSON tree. */
export function generatedFromTree(root: Node): GeneratedFile | undefined {
  if (root.type !== 'object' || !root.children) return undefined;
  const keys = root.children.map((p) => p.children?.[0]?.value as string);
  if (keys.includes('image_type') && keys.every((k) => k === 'image_type' || k === 'occlum_json_mac'))
    return { file: 'build/image_config.json', what: 'the image type /bin/init reads' };
  const app = findNodeAtLocation(root, ['app']);
  if (app?.type === 'array' && app.children?.some((s) => findNodeAtLocation(s, ['stage']) !== undefined))
    return { file: 'build/.Occlum_sys.json', what: "the LibOS's internal config of both stages" };
  // Before 0.29.6 the build wrote build/Occlum.json (the app stage) and build/.Occlum_sys.json (the
  // init stage) in Occlum.json's own shape, with the MAC of the root image filled in, where a
  // user's Occlum.json has the template's empty placeholder.
  const rootMount = findNodeAtLocation(root, ['mount'])?.children?.find(
    (m) => findNodeAtLocation(m, ['target'])?.value === '/',
  );
  const layers = rootMount && findNodeAtLocation(rootMount, ['options', 'layers'])?.children;
  const sealed = layers?.find((l) => MAC.test(String(findNodeAtLocation(l, ['options', 'MAC'])?.value)));
  if (!sealed) return undefined;
  const source = findNodeAtLocation(sealed, ['source'])?.value;
  return typeof source === 'string' && source.includes('initfs')
    ? { file: 'build/.Occlum_sys.json', what: "the init stage's config, as Occlum 0.29.5 and older wrote it" }
    : { file: 'build/Occlum.json', what: "the app stage's config, as Occlum 0.29.5 and older wrote it" };
}

export function generatedMessage(g: GeneratedFile): string {
  return `this is ${g.file}, which \`occlum build\` generates (${g.what}) and rewrites on every build; the config to edit is the instance's Occlum.json`;
}
