// A command line as the Run picker takes it ("/bin/app --flag 'two words'") ↔ path + args.
// POSIX-shell-like quoting only: no variables, globs or redirections, because nothing here runs
// a shell; what is typed is what the program receives.

export class CommandLineError extends Error {}

export interface CommandLine {
  path: string;
  args: string[];
}

/** Splits a line into words: '…' is literal, "…" allows \" and \\, a backslash escapes one char. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new CommandLineError(`unterminated ' quote starting at column ${i + 1}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && (line[j + 1] === '"' || line[j + 1] === '\\')) j++;
        word += line[j];
      }
      if (j >= line.length) throw new CommandLineError(`unterminated " quote starting at column ${i + 1}`);
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Parses a picker line into the program path and its arguments. */
export function parseCommandLine(line: string): CommandLine {
  const words = splitWords(line.trim());
  if (words.length === 0) throw new CommandLineError('type the path of a program inside the image, e.g. /bin/hello');
  const [path, ...args] = words;
  return { path, args };
}

function quoteWord(w: string): string {
  if (w !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/** The inverse of parseCommandLine: a line that parses back to the same path and args. */
export function formatCommandLine({ path, args }: CommandLine): string {
  return formatWords([path, ...args]);
}

/** Words (a program and its arguments) as one line, quoted so that '' and spaces stay visible. */
export function formatWords(words: string[]): string {
  return words.map(quoteWord).join(' ');
}
