/**
 * The stack engine as strata's commands and programs open it: the engine (layer 4) with strata's own resolvers for
 * outside data, which live in the toolchains (layer 5). The one place the two are wired together.
 */
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
    return readTerraformOutput(engine, ref, mode, { readOnly: true });
  },
};

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
