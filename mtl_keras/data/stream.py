"""`ArrayStream`: a step-indexed, batch-level stream over in-memory arrays.

Examples are organised in *groups* that share an order: in multi-input mode each task is a group
(its own examples, batch size and shuffle), in shared-input mode all tasks form one group (one
input, a label per task).

Step `s` of a training stream takes, from group `g` (`n_g` examples, batch `b_g`), the examples
at positions `s·b_g … (s+1)·b_g − 1` of an endless walk through the group: position `p` lies in
epoch `e = ⌊p / n_g⌋` of the group and is example `π_{g,e}(p mod n_g)`, where `π_{g,e}` is a
permutation drawn from `(seed, g, e)` alone (see `permutations`). So the batch of step `s` depends on the seed and `s`
only, a small group cycles through its examples while a large one makes one pass, and a run
resumed at step `s` sees the batches an uninterrupted run would.

The work is batch-level: at the start of each pass (a Keras epoch) the stream computes, for every
group, the `[S, b_g]` matrix of example indices of the pass's `S` steps from the permutations of the
epochs it touches; each step is then a handful of ops (one gather per array), whatever the batch
size. With a sampling plan (the model's task sampler), a step gathers only the sampled tasks'
examples: the others get empty batches.
"""

import math

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
#: Steps whose batches a training pass gathers at once.
CHUNK = 16
#: Up to this many epochs per pass, each epoch's order is one shuffle; beyond, one vectorised sort.
SHUFFLED_EPOCHS = 4


class Group:
    """Examples that share one order: a task's data set (multi-input) or the shared input.

    Args:
        x: the inputs (an array or a dict of arrays), `n` examples.
        labels: dict `{task: y}` of label arrays, `n` each.
        weights: dict `{task: w}` of float32 weight vectors, `n` each.
        batch_size: examples per step.
        seed: the seed of this group's permutations.
    """

    def __init__(self, x, labels, weights, batch_size, seed):
        self.x = _constants(x)
        self.labels = {name: tf.constant(y) for name, y in labels.items()}
        self.weights = {name: tf.constant(w) for name, w in weights.items()}
        self.count = len(next(iter(weights.values())))
        self.batch_size = int(batch_size)
        self.seed = int(seed)

    def pass_indices(self, start, steps, shuffle):
        """Example indices `[steps, batch]` (int64) of steps `start … start + steps − 1`."""
        n, b = self.count, self.batch_size
        first = start * b
        length = steps * b
        if not shuffle:
            flat = (first + tf.range(length, dtype=tf.int64)) % n
            return tf.reshape(flat, [steps, b])
        first_epoch = first // n
        most_epochs = -(-steps * b // n) + 1  # the epochs a pass can touch
        if most_epochs <= SHUFFLED_EPOCHS:
            orders = tf.stack([shuffled(n, self.seed, first_epoch + k) for k in range(most_epochs)])
        else:  # a small group cycled many times in a pass: one vectorised sort
            orders = permutations(n, self.seed, first_epoch, (first + length - 1) // n - first_epoch + 1)
        flat = tf.reshape(orders, [-1])[first - first_epoch * n : first - first_epoch * n + length]
        return tf.reshape(flat, [steps, b])

    def gather_inputs(self, index):
        return tf.nest.map_structure(lambda a: tf.gather(a, index), self.x)



def shuffled(n, seed, epoch):
    """The order `π_{g,e}` of a group's `n` examples in epoch `epoch`, drawn from `(seed, epoch)` alone."""
    seed_pair = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed_pair)


def permutations(n, seed, first_epoch, num_epochs):
    """Orders of a small group's `n` examples in epochs `first_epoch … first_epoch + num_epochs − 1`.

    Used when a pass cycles through a group many times. Each epoch's order sorts pseudo-random
    keys `h(seed, e, j)` of its examples `j`, where `h` is a 32-bit integer hash (the "lowbias32"
    finaliser applied three times), so the order depends on `(seed, e)` alone and all the epochs
    of a pass come out of one vectorised sort.

    Returns:
        Int64 tensor `[num_epochs, n]`, each row a permutation of `0 … n − 1`.
    """
    epochs = tf.cast(first_epoch + tf.range(num_epochs, dtype=tf.int64), tf.uint32)[:, None]
    examples = tf.cast(tf.range(n, dtype=tf.int64), tf.uint32)[None, :]
    keys = _mix(_mix(_mix(tf.constant(seed & 0xFFFFFFFF, tf.uint32)) ^ epochs) ^ examples)
    return tf.cast(tf.argsort(tf.cast(keys, tf.int64), axis=1, stable=True), tf.int64)


def _mix(x):
    """A 32-bit integer hash with good avalanche (lowbias32): xor-shifts and odd multipliers, mod 2^32."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


class Sampling:
    """Which tasks a training stream gathers at each step: the model's task sampler and its settings.

    Args:
        sampler: a configured `mtl_keras.samplers.TaskSampler`.
        tasks_per_step: tasks drawn per step.
        seed: the sampler's seed.
    """

    def __init__(self, sampler, tasks_per_step, seed):
        self.sampler = sampler
        self.tasks_per_step = int(tasks_per_step)
        self.seed = int(seed)

    @property
    def key(self):
        """What identifies the plan (the same sampler object, count and seed draw the same tasks)."""
        return (id(self.sampler), self.tasks_per_step, self.seed)

    def mask(self, step):
        return self.sampler.sample(step, self.tasks_per_step, self.seed) > 0


class ArrayStream:
    """A step-indexed multi-task stream over in-memory arrays (see the module docstring).

    Args:
        groups: dict `{group name: Group}`; in multi-input mode one per task, named by the task.
        task_groups: dict `{task: group name}`, in task order.
        per_task_input: multi-input mode (`x` is a dict by task) or shared-input mode (one `x`).
        steps_per_epoch: steps of one training pass.
        shuffle: shuffle each group every epoch.
    """

    def __init__(self, groups, task_groups, per_task_input, steps_per_epoch, shuffle):
        self.groups = groups
        self.task_groups = dict(task_groups)
        self.task_names = list(task_groups)
        self.per_task_input = per_task_input
        self.steps_per_epoch = int(steps_per_epoch)
        self.shuffle = bool(shuffle)
        #: Task sets this stream's labels were checked against (see `MultiTaskModel.fit`).
        self.checked = set()
        self._built = {}
        with tf.init_scope():
            #: The step at which the next pass starts; each pass advances it. `MultiTaskModel.fit`
            #: sets it from the optimizer's step count when training starts.
            self.position = tf.Variable(0, dtype=tf.int64, trainable=False, name="mtl_data_position")
            #: Steps of the next pass that carry data (-1: a whole pass), then reset. A run
            #: restored mid-epoch sets it to the steps that epoch has left.
            self.next_pass_steps = tf.Variable(-1, dtype=tf.int64, trainable=False, name="mtl_next_pass_steps")
            #: Idle steps (empty batches for every task, which a training step skips) that follow
            #: the next pass's data in an endless stream, then reset to 0.
            self.next_pass_idle = tf.Variable(0, dtype=tf.int64, trainable=False, name="mtl_next_pass_idle")

    # ------------------------------------------------------------------------ training passes
    def training_dataset(self, sampling=None, steps_per_epoch=None, resumable=False, endless=False):
        """The training stream, in passes of `steps_per_epoch` steps, each starting at `position`.

        A pass gathers its batches `CHUNK` steps at a time (one gather per array for all of them)
        and hands them out step by step, so a step costs a few slices whatever the batch size.
        With a `sampling` plan each step keeps the sampled tasks' batches and gives the others
        empty ones.

        Args:
            sampling: a `Sampling`, or `None` to give every task a batch at every step.
            steps_per_epoch: steps per pass. Defaults to the stream's.
            resumable: honour `next_pass_steps` / `next_pass_idle` (see the constructor), so a run
                restored mid-epoch can finish that epoch exactly.
            endless: pass after pass without end (what `MultiTaskModel.fit` iterates, one iterator
                for the whole run); otherwise each iteration of the data set is one pass.
        """
        steps = int(steps_per_epoch or self.steps_per_epoch)
        key = (None if sampling is None else sampling.key, steps, bool(resumable), bool(endless))
        if key not in self._built:  # building the pipeline takes longer than a few steps: once per kind
            self._built[key] = self._training_dataset(sampling, steps, resumable, endless)
        return self._built[key]

    def _training_dataset(self, sampling, steps, resumable, endless):
        chunk = next((c for c in range(min(CHUNK, steps), CHUNK // 2, -1) if steps % c == 0), min(CHUNK, steps))
        padded = -(-steps // chunk) * chunk
        position, next_steps, next_idle = self.position, self.next_pass_steps, self.next_pass_idle
        trimmed = resumable or padded != steps
        per_step = sampling is not None or resumable

        def pass_plan(_):
            real = next_steps.read_value()
            real = tf.where(real < 0, tf.constant(steps, tf.int64), real)
            idle = next_idle.read_value() if endless else steps - real
            with tf.control_dependencies([real, idle]):
                resets = [next_steps.assign(-1), next_idle.assign(0)]
            with tf.control_dependencies(resets):
                start = position.assign_add(real if endless else steps) - (real if endless else steps)
            shape = [padded // chunk, chunk]
            indices = {name: tf.reshape(g.pass_indices(start, padded, self.shuffle), shape + [g.batch_size]) for name, g in self.groups.items()}
            offsets = tf.range(padded, dtype=tf.int64)
            flags = tf.reshape(offsets < real, shape), tf.reshape(offsets < real + idle, shape)
            return tf.reshape(start + offsets, shape), *flags, indices

        def gather_chunk(step_numbers, has_data, valid, indices):
            batch = self._gather_chunk(indices)
            return (step_numbers, has_data, valid, *batch) if per_step or trimmed else batch

        passes = tf.data.Dataset.range(2**62) if endless else tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
        dataset = passes.map(pass_plan).flat_map(lambda *plan: tf.data.Dataset.from_tensor_slices(plan))
        dataset = dataset.map(gather_chunk).unbatch()  # the common case ends here: no work per step
        if trimmed:
            dataset = dataset.filter(lambda step, has_data, valid, *batch: valid)
        num_tasks = len(self.task_names)

        def keep(step, has_data, valid, *batch):
            if not per_step:
                return batch
            active = tf.fill([num_tasks], has_data)
            return self._keep_sampled(batch, active if sampling is None else active & sampling.mask(step))

        if per_step or trimmed:
            dataset = dataset.map(keep)
        if not endless:
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
        return self._tag(dataset.prefetch(AUTOTUNE))

    def _gather_chunk(self, indices):
        """`(x, y, w)` of a chunk of steps, every array gathered once, with a leading chunk axis."""
        rows = {name: tf.reshape(index, [-1]) for name, index in indices.items()}

        def per_step(tensor, group):
            chunk_shape = tf.shape(indices[group])
            return tf.reshape(tensor, tf.concat([chunk_shape, tf.shape(tensor)[1:]], 0))

        return self._batch(rows, lambda tensor, group: per_step(tensor, group))

    def _batch(self, rows, shape=None):
        """`(x, y, w)` at example indices `rows` (by group); `shape(tensor, group)` reshapes each gathered array."""
        shape = shape or (lambda tensor, group: tensor)
        labels, weights = {}, {}
        for name in self.task_names:
            group = self.task_groups[name]
            labels[name] = shape(tf.gather(self.groups[group].labels[name], rows[group]), group)
            weights[name] = shape(tf.gather(self.groups[group].weights[name], rows[group]), group)
        if self.per_task_input:
            x = {n: tf.nest.map_structure(lambda a, n=n: shape(a, n), self.groups[n].gather_inputs(rows[n])) for n in self.task_names}
        else:
            (group,) = self.groups
            x = tf.nest.map_structure(lambda a: shape(a, group), self.groups[group].gather_inputs(rows[group]))
        return x, labels, weights

    def _keep_sampled(self, batch, active):
        """One step's batch with the inactive tasks' batches emptied (their rows are dropped)."""
        x, labels, weights = batch
        keep = {name: tf.cast(active[i], tf.int32) * tf.shape(labels[name])[0] for i, name in enumerate(self.task_names)}
        labels = {name: labels[name][: keep[name]] for name in self.task_names}
        weights = {name: weights[name][: keep[name]] for name in self.task_names}
        if self.per_task_input:
            x = {name: tf.nest.map_structure(lambda a, n=name: a[: keep[n]], x[name]) for name in self.task_names}
        return x, labels, weights

    # ------------------------------------------------------------------------ evaluation passes
    def evaluation_dataset(self, batch_size=None):
        """One pass over every example of every group, in order; a group that runs out gets empty batches.

        Args:
            batch_size: examples per step for every group. Defaults to each group's batch size.
        """
        sizes = {name: int(batch_size or g.batch_size) for name, g in self.groups.items()}
        steps = max(math.ceil(g.count / sizes[name]) for name, g in self.groups.items())

        def element(step):
            indices = {}
            for name, group in self.groups.items():
                first = step * sizes[name]
                last = tf.minimum(first + sizes[name], group.count)
                indices[name] = tf.range(tf.minimum(first, last), last, dtype=tf.int64)
            return self._batch(indices)

        dataset = tf.data.Dataset.range(steps).map(element, num_parallel_calls=AUTOTUNE, deterministic=True)
        return self._tag(dataset.prefetch(AUTOTUNE))

    def _tag(self, dataset):
        dataset.mtl_stream = self
        return dataset


def _constants(x):
    """Arrays as constant tensors (a dict of arrays stays a dict)."""
    if isinstance(x, dict):
        return {k: tf.constant(v) for k, v in x.items()}
    return tf.constant(x)
