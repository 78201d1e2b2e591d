/** strata's version. package.json holds the same string; a test keeps the two equal. */
export const VERSION = '0.1.0';
