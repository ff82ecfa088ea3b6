import * as fs from 'node:fs';
import * as path from 'node:path';
import { ANY_PROJECT } from '../core/project-index';

/**
 * Files that mark a project's root folder. `meson.build` and `CMakeLists.txt` are left out: projects put one in
 * many of their folders.
 */
export const PROJECT_MARKERS = ['pyproject.toml', 'setup.py', 'setup.cfg', '.git'];

/**
 * The project of a file on disk: the nearest folder above it that holds a project file (`PROJECT_MARKERS`), or ''
 * when none does; a document that is no file (not an absolute path) is of `ANY_PROJECT`. Each folder is looked at once
 * per instance.
 */
export class ProjectRoots {
  private readonly roots = new Map<string, string>();

  readonly projectOf = (file: string): string => (path.isAbsolute(file) ? this.rootOf(path.dirname(file)) : ANY_PROJECT);

  /** Forgets what was found (a project file was created or deleted). */
  forget(): void {
    this.roots.clear();
  }

  private rootOf(dir: string): string {
    const known = this.roots.get(dir);
    if (known !== undefined) return known;
    let root: string;
    if (PROJECT_MARKERS.some((m) => exists(path.join(dir, m)))) root = dir;
    else {
      const up = path.dirname(dir);
      root = up === dir ? '' : this.rootOf(up);
    }
    this.roots.set(dir, root);
    return root;
  }
}

function exists(p: string): boolean {
  try {
    fs.statSync(p);
    return true;
  } catch {
    return false;
  }
}
