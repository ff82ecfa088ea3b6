import * as fs from 'node:fs';
import { indexMentioning, type FileIndex, type IndexGroup, type IndexSource, type NameSet } from '../core/project-index';
import { decodeSource, looksBinary } from '../core/text';

/**
 * A scanned file as the project index reads it: `known` when its text is at hand (a file with findings keeps it,
 * standard input has no file), else from disk, tested for the names on its raw bytes; a file that mentions one is
 * decoded from the bytes that test read (not read again).
 */
export function diskIndexSource(abs: string, known?: string): IndexSource {
  /** The bytes (and their Latin-1 reading, if made) of a file that mentions a name, until its text is asked for. */
  let mentioned: { bytes: Buffer; latin1?: string } | undefined;
  return {
    path: abs,
    mentions: (names: NameSet) => {
      if (known !== undefined) return names.mentionedIn(known);
      try {
        const bytes = fs.readFileSync(abs);
        const latin1 = names.names.length <= 16 ? undefined : bytes.toString('latin1');
        const found = latin1 === undefined ? names.names.some((n) => bytes.includes(n)) : names.mentionedIn(latin1);
        if (found) mentioned = { bytes, latin1 };
        return found;
      } catch {
        return false;
      }
    },
    text: () => {
      if (known !== undefined) return known;
      try {
        const { bytes, latin1 } = mentioned ?? { bytes: fs.readFileSync(abs) };
        mentioned = undefined;
        return looksBinary(bytes) ? undefined : decodeSource(bytes, latin1).text;
      } catch {
        return undefined;
      }
    },
  };
}

/** The indexes of the files of each group, read from disk, that mention one of the group's names (a worker's share of an index round). */
export function indexShare(groups: readonly IndexGroup[]): FileIndex[] {
  return groups.flatMap((g) => indexMentioning(g.names, g.paths.map((p) => diskIndexSource(p))));
}
