/**
 * The stack engine as strata's commands and programs open it: the engine (layer 4) with strata's own resolvers for
 * outside data, which live in the toolchains (layer 5). The one place the two are wired together.
 */
import { StrataError } from '../errors.ts';
import { type EngineOptions, type EngineResolvers, loadEngine, type StackEngine } from '../stacks/engine.ts';

/** Terraform outputs and state for `!terraform.output` / `!terraform.state`, read by the Terraform toolchain. */
export const defaultResolvers: EngineResolvers = {
  async terraformOutput(engine, ref, mode) {
    // Loaded on first use: describe and list never pay for the Terraform runner unless a stack reads outputs.
    const { readTerraformOutput } = await import('../components/terraform/outputs.ts');
    return readTerraformOutput(engine, ref, mode);
  },
};

/**
 * Resolvers for describe and validate: they read what strata can read itself (local and pg state) and never write
 * into a component folder or run Terraform.
 */
export const readOnlyResolvers: EngineResolvers = {
  async terraformOutput(engine, ref, mode) {
    const { readTerraformOutput } = await import('../components/terraform/outputs.ts');
    try {
      return await readTerraformOutput(engine, ref, mode, { readOnly: true });
    } catch (error) {
      throw withOfflineHint(error, `terraform.${mode}`);
    }
  },
};

/** A failed read during describe or validate also says how to go on without it, as Atmos's flags allow. */
function withOfflineHint(error: unknown, fn: string): unknown {
  if (!(error instanceof StrataError) || error.hint?.includes('--process-functions=false')) return error;
  const offline = `to describe without reading it, pass --process-functions=false or --skip ${fn}`;
  return new StrataError(error.message, {
    location: error.location,
    details: error.details,
    exitCode: error.exitCode,
    cause: error.cause,
    hint: error.hint ? `${error.hint}; ${offline}` : offline,
  });
}

/** An engine for describe and validate: strata's resolvers in their read-only form. */
export function openReadOnlyEngine(options: EngineOptions = {}): Promise<StackEngine> {
  return loadEngine({ ...options, resolvers: { ...readOnlyResolvers, ...options.resolvers } });
}

/** Options with strata's resolvers under the caller's own (a caller's resolver wins). */
export function withDefaultResolvers<T extends EngineOptions>(options: T): T {
  return { ...options, resolvers: { ...defaultResolvers, ...options.resolvers } };
}

/** An engine over the configuration the options find, with strata's resolvers. */
export function openEngine(options: EngineOptions = {}): Promise<StackEngine> {
  return loadEngine(withDefaultResolvers(options));
}
