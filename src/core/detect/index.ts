// Detection: what is installed, what an instance is doing, which backend to use.
export * from './occlum-install.ts';
export * from './processes.ts';
export * from './instance-state.ts';
export * from './backend-choice.ts';
