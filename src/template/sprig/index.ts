/**
 * The Sprig functions Atmos stacks use, re-implemented by hand with Sprig's argument order, Go parameter types and
 * quirks (`default` treats every empty value as unset, arithmetic truncates to int64, `get` returns "" when absent).
 * Differences from Sprig are listed in docs/templates.md. One module per family; the table keeps Sprig's grouping.
 */
import type { FuncMap } from '../funcs.ts';
import { dictFunctions, listFunctions } from './collections.ts';
import { dateFunctions } from './dates.ts';
import { encodingFunctions } from './encoding.ts';
import { mathFunctions } from './math.ts';
import { regexFunctions } from './regex.ts';
import { environmentFunctions, stringFunctions } from './strings.ts';
import { logicFunctions, typeFunctions } from './values.ts';

export const sprigFunctions: FuncMap = {
  ...stringFunctions,
  ...logicFunctions,
  ...mathFunctions,
  ...listFunctions,
  ...dictFunctions,
  ...encodingFunctions,
  ...environmentFunctions,
  ...regexFunctions,
  ...typeFunctions,
  ...dateFunctions,
};
