import * as fs from 'node:fs';
import { indexMentioning, type FileIndex, type IndexGroup, type IndexSource, type NameSet } from '../core/project-index';
import { decodeSource, looksBinary } from '../core/text';

/**
 * A scanned file as the project index reads it: `known` when its text is at hand (a file with findings keeps it,
 * standard input has no file), else from disk, tested for the names on its raw bytes (decoded only when it mentions
 * one).
 */
export function diskIndexSource(abs: string, known?: string): IndexSource {
  return {
    path: abs,
    mentions: (names: NameSet) => {
      if (known !== undefined) return names.mentionedIn(known);
      try {
        const bytes = fs.readFileSync(abs);
        return names.names.length <= 16 ? names.names.some((n) => bytes.includes(n)) : names.mentionedIn(bytes.toString('latin1'));
      } catch {
        return false;
      }
    },
    text: () => {
      if (known !== undefined) return known;
      try {
        const bytes = fs.readFileSync(abs);
        return looksBinary(bytes) ? undefined : decodeSource(bytes).text;
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
