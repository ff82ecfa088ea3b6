import { borrowedReferenceReturn } from './borrowed-reference-return';
import { borrowedSingletonReturn } from './borrowed-singleton-return';
import { borrowedSingletonSteal } from './borrowed-singleton-steal';
import { ownedReferenceLeak } from './owned-reference-leak';
import { preferReturnMacro } from './prefer-return-macro';
import { referenceLeak } from './reference-leak';
import { releaseNotOwned } from './release-not-owned';
import type { Rule } from './rule';
import { singletonDecref } from './singleton-decref';
import { unusedIgnore } from './unused-ignore';
import { useAfterRelease } from './use-after-release';

/** Every rule, sorted by id. */
export const RULES: readonly Rule[] = [borrowedReferenceReturn, borrowedSingletonReturn, borrowedSingletonSteal, ownedReferenceLeak, preferReturnMacro, referenceLeak, releaseNotOwned, singletonDecref, unusedIgnore, useAfterRelease];

/** Rules by id. */
export const RULES_BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));

/** Where each rule's documentation lives. */
export function docsUrl(id: string): string {
  return `https://github.com/cpyref/cpyref/blob/main/docs/rules/${id}.md`;
}
