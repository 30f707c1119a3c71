// Every text a user can see (the strings of src/ and views/: messages, errors, help) points at
// docs/ in this repository, never at a reference file outside it (the Occlum sources or the spec
// files the project was written from, ../shared): a user has only the installed package and docs/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers/paths.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

/** The string literals and template texts of a file (comments are not shown to users). */
function strings(file: string): { text: string; line: number }[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { text: string; line: number }[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isStringLiteralLike(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n))
      out.push({ text: n.text, line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1 });
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

const OUTSIDE = /\.\.\/shared|\/work\/shared|securefs-format|occlum-cli-config|specs\/|reference\/|\bspec \d|§\s?\d/;

test('user-visible strings cite docs/ of this repository only, and the pages they cite exist', () => {
  const bad: string[] = [];
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'views'))]) {
    const at = (line: number) => `${relative(ROOT, file)}:${line}`;
    for (const { text, line } of strings(file)) {
      if (OUTSIDE.test(text)) bad.push(`${at(line)}: ${text.slice(0, 100)}`);
      for (const m of text.matchAll(/\bdocs\/([\w-]+\.md)/g))
        if (!existsSync(join(ROOT, 'docs', m[1]!))) bad.push(`${at(line)}: docs/${m[1]} does not exist`);
    }
  }
  assert.deepEqual(bad, []);
});
