import type { ErrorObject } from 'ajv';

/** The operator manifest schema, compiled by scripts/manifest-validator.mjs (ajv standalone code). */
export declare function validate(data: unknown): boolean;
export declare namespace validate {
  let errors: ErrorObject[] | null | undefined;
}
export default validate;
