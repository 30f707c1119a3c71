// Shown when the studio is launched outside an instance: the instances found below the
// launch directory, to open one.
import React, { useMemo, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { relative } from 'node:path';
import { findInstances } from '../src/core/instance/discover.ts';
import { openInstance } from '../src/store/index.ts';
import { keyName } from './keys.ts';
import { useStudio, useStudioStore } from './store-context.tsx';
import { theme } from './theme.ts';

export function StartScreen() {
  const store = useStudioStore();
  const launchDir = useStudio((s) => s.launchDir);
  const overlay = useStudio((s) => s.overlay);
  const instances = useMemo(() => findInstances(launchDir), [launchDir]);
  const [index, setIndex] = useState(0);

  useInput(
    (input, key) => {
      const k = keyName(input, key);
      if (k === 'down' || k === 'j') setIndex((i) => Math.min(i + 1, instances.length - 1));
      if (k === 'up' || k === 'k') setIndex((i) => Math.max(i - 1, 0));
      if (k === 'enter') {
        const chosen = instances[index];
        if (chosen) void openInstance(store, chosen.dir);
      }
    },
    { isActive: overlay === 'none' },
  );

  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>No Occlum instance in {launchDir}</Text>
      <Text color={theme.muted}>
        An instance is a directory with Occlum.json (create one with `occlum-studio new DIR` or `occlum-studio init`).
      </Text>
      <Box marginTop={1} flexDirection="column">
        {instances.length === 0 ? (
          <Text>No instances found below this directory (searched 3 levels deep).</Text>
        ) : (
          <>
            <Text bold color={theme.accent}>Instances below this directory (enter opens):</Text>
            {instances.map((inst, i) => (
              <Text key={inst.dir} inverse={i === index}>
                {' '}
                {relative(launchDir, inst.dir) || '.'} <Text color={theme.muted}>{inst.status ?? 'no status file'}</Text>
              </Text>
            ))}
          </>
        )}
      </Box>
    </Box>
  );
}
