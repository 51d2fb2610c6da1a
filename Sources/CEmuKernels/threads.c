/* A small pool of persistent worker threads. The caller of emu_parallel_for works too; tasks are
   handed out by an atomic counter so a slow (preempted) thread does not stall the others. */
#include "emu_kernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <sched.h>

#define EMU_MAX_THREADS 64

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;   /* one job at a time */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static int thread_count = 0;        /* threads used by kernels, including the caller */
static int workers_started = 0;

static emu_task_fn job_fn;
static void *job_context;
static long job_count;
static atomic_long job_next;
static atomic_long job_done;
static atomic_long job_generation;
static atomic_int job_workers;      /* workers allowed to join the current job */
static atomic_int job_busy;         /* workers inside run_tasks */
/* job_generation is odd while a job is open; the caller closes it (even) and waits for job_busy
   to drain before the job fields may change, so a late worker never runs a stale job. */
static _Thread_local int inside_parallel = 0;

static void run_tasks(void) {
    long i;
    long done = 0;
    while ((i = atomic_fetch_add(&job_next, 1)) < job_count) { job_fn(job_context, i); done++; }
    if (done) atomic_fetch_add(&job_done, done);
}

static void *worker_main(void *arg) {
    long id = (long)arg;
    long seen = 0;
    inside_parallel = 1;
    for (;;) {
        long gen = atomic_load(&job_generation);
        if (gen == seen) {
            /* Spin briefly (jobs often come back to back), then sleep. */
            int spins = 0;
            while ((gen = atomic_load(&job_generation)) == seen && spins < 20000) {
#if defined(__x86_64__)
                __builtin_ia32_pause();
#endif
                spins++;
            }
            if (gen == seen) {
                pthread_mutex_lock(&wake_lock);
                while ((gen = atomic_load(&job_generation)) == seen) pthread_cond_wait(&wake_cond, &wake_lock);
                pthread_mutex_unlock(&wake_lock);
            }
        }
        seen = gen;
        if (!(gen & 1)) continue;
        atomic_fetch_add(&job_busy, 1);
        if (atomic_load(&job_generation) == gen && id < atomic_load(&job_workers)) run_tasks();
        atomic_fetch_sub(&job_busy, 1);
    }
    return NULL;
}

static void pool_init(void) {
    if (thread_count == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        thread_count = n < 1 ? 1 : (n > EMU_MAX_THREADS ? EMU_MAX_THREADS : (int)n);
    }
}

void emu_set_num_threads(int count) {
    pthread_once(&pool_once, pool_init);
    pthread_mutex_lock(&pool_lock);
    thread_count = count < 1 ? 1 : (count > EMU_MAX_THREADS ? EMU_MAX_THREADS : count);
    pthread_mutex_unlock(&pool_lock);
}

int emu_get_num_threads(void) {
    pthread_once(&pool_once, pool_init);
    return thread_count;
}

void emu_parallel_for(long count, emu_task_fn fn, void *context) {
    pthread_once(&pool_once, pool_init);
    if (count <= 0) return;
    if (count == 1 || thread_count <= 1 || inside_parallel || pthread_mutex_trylock(&pool_lock) != 0) {
        for (long i = 0; i < count; i++) fn(context, i);
        return;
    }
    int helpers = thread_count - 1;
    if (helpers > count - 1) helpers = (int)(count - 1);
    while (workers_started < thread_count - 1) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker_main, (void *)(long)workers_started) != 0) break;
        pthread_detach(thread);
        workers_started++;
    }
    if (helpers > workers_started) helpers = workers_started;
    job_fn = fn; job_context = context; job_count = count;
    atomic_store(&job_next, 0);
    atomic_store(&job_done, 0);
    atomic_store(&job_workers, helpers);
    pthread_mutex_lock(&wake_lock);
    atomic_fetch_add(&job_generation, 1);
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
    inside_parallel = 1;
    run_tasks();
    inside_parallel = 0;
    int spins = 0;
    while (atomic_load(&job_done) < count) {
        if (++spins > 2000) sched_yield();
#if defined(__x86_64__)
        else __builtin_ia32_pause();
#endif
    }
    atomic_fetch_add(&job_generation, 1);   /* close */
    while (atomic_load(&job_busy) != 0) sched_yield();
    pthread_mutex_unlock(&pool_lock);
}
