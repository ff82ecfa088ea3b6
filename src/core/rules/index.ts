import { borrowedSingletonReturn } from './borrowed-singleton-return';
import { borrowedSingletonSteal } from './borrowed-singleton-steal';
import { preferReturnMacro } from './prefer-return-macro';
import { referenceLeak } from './reference-leak';
import type { Rule } from './rule';
import { singletonDecref } from './singleton-decref';
import { unusedIgnore } from './unused-ignore';

/** Every rule, sorted by id. */
export const RULES: readonly Rule[] = [borrowedSingletonReturn, borrowedSingletonSteal, preferReturnMacro, referenceLeak, singletonDecref, unusedIgnore];

/** Rules by id. */
export const RULES_BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((r) => [r.id, r]));

/** Where each rule's documentation lives. */
export function docsUrl(id: string): string {
  return `https://github.com/cpyref/cpyref/blob/main/docs/rules/${id}.md`;
}
