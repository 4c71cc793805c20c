// SPDX-License-Identifier: MIT
/*
 * ukernel/fs_ukfs_file.c - ukfs file data: the page cache's read_pages and
 * write_pages over ukfs block maps and blockdev (delayed allocation at
 * writeback, one request per contiguous extent), and the file operations
 * (read, write, fsync, truncate, fallocate, SEEK_DATA/SEEK_HOLE).
 *
 * Sections: block I/O for the page cache, file ops, size and space.
 */
#include <stdlib.h>
#include <string.h>

#include "fs_ukfs.h"

#define BLOCKS_PER_PAGE (PCACHE_PAGE_SIZE / UKFS_BLOCK_SIZE)
_Static_assert(PCACHE_PAGE_SIZE == UKFS_BLOCK_SIZE, "one block per page");

/* Per open file: readahead state and the errseq cursor. */
struct ukfs_file {
	pthread_mutex_t ra_lock; /* ra (preads of one description race) */
	struct pcache_ra_state ra;
	uint32_t errseq;
};

static struct ukfs_sb_info *SBI(struct ukfs_inode_info *ui)
{
	return UKSB(ui->vfs.i_sb);
}

/* ---- block I/O for the page cache ------------------------------------- */

/*
 * Many requests in flight per call. Profiling showed the data path at queue
 * depth 1: one synchronous bdev_readv/bdev_writev per extent, so a 1 GiB
 * fsync was 1024 round trips of 1 MiB each, one after the other. A run
 * handed over by the page cache (up to PCACHE_MAX_RUN pages) is cut into
 * requests of at most UKFS_IO_CHUNK blocks (blockdev's merge limit,
 * 1 MiB) and up to UKFS_IO_DEPTH of them are kept in flight; each is
 * completed to the page cache as it is reaped. write_pages waits for all
 * of its requests before it returns, which is what keeps data=ordered
 * simple (see ukfs_write_pages); the readahead thread keeps its requests
 * in flight from one run to the next (ra_thread).
 */
#define UKFS_IO_CHUNK 256u
#define UKFS_IO_DEPTH 32u

struct ukfs_io {
	struct bdev_request rq;
	unsigned int n;
	bool busy;
	bool convert;		/* write: mark e written once it succeeded */
	struct ukfs_extent e;	/* write: the blocks of this request */
	struct iovec iov[UKFS_IO_CHUNK];
	struct pcache_page *pages[UKFS_IO_CHUNK];
};

/*
 * Requests in flight, used as a ring: slot next is the next to start and,
 * when busy, the oldest in flight. Each slot keeps its own copy of the
 * page pointers and iovecs, so the caller's array may go at once.
 */
struct ukfs_io_batch {
	struct ukfs_sb_info *s;
	struct ukfs_inode_info *ui;	/* write: the file */
	bool write;
	unsigned int next;
	struct ukfs_io io[UKFS_IO_DEPTH];
};

/* Waits for slot io and completes its pages to the page cache. */
static void io_complete(struct ukfs_io_batch *b, struct ukfs_io *io)
{
	int ret;

	if (!io->busy)
		return;
	io->busy = false;
	ret = bdev_wait(&io->rq);
	if (b->write) {
		if (!ret && io->convert) {
			io->e.flags = 0;
			ret = ukfs_extent_insert(b->s->meta, b->ui->vfs.i_ino,
						 &io->e);
		}
		pcache_write_done(io->pages, io->n, ret);
	} else {
		pcache_read_done(io->pages, io->n, ret);
	}
}

/*
 * Starts I/O on the n pages (consecutive, n <= UKFS_IO_CHUNK) at physical
 * block pblk, waiting for the oldest request first when every slot is in
 * use.
 */
static void io_start(struct ukfs_io_batch *b, struct pcache_page **pages,
		     unsigned int n, uint64_t pblk,
		     const struct ukfs_extent *e, bool convert)
{
	struct ukfs_io *io = &b->io[b->next];
	struct uk_blockdev *bdev = b->s->bdev;
	int ret, nv = 0;

	io_complete(b, io);
	b->next = (b->next + 1) % UKFS_IO_DEPTH;
	/*
	 * Frames adjacent in memory (the page cache carves them in order
	 * from 2 MiB chunks, so a file read or written in order mostly has
	 * them so) share one iovec: the kernel then pins a request's pages
	 * with a few calls instead of one per 4 KiB segment.
	 */
	for (unsigned int j = 0; j < n; j++) {
		char *d = pages[j]->data;

		io->pages[j] = pages[j];
		if (nv && (char *)io->iov[nv - 1].iov_base +
					  io->iov[nv - 1].iov_len == d) {
			io->iov[nv - 1].iov_len += PCACHE_PAGE_SIZE;
			continue;
		}
		io->iov[nv].iov_base = d;
		io->iov[nv].iov_len = PCACHE_PAGE_SIZE;
		nv++;
	}
	io->n = n;
	io->convert = convert;
	if (e)
		io->e = *e;
	if (b->write)
		bdev_prep_writev(&io->rq, bdev, pblk, n, io->iov, nv, NULL,
				 NULL);
	else
		bdev_prep_readv(&io->rq, bdev, pblk, n, io->iov, nv, NULL,
				NULL);
	ret = bdev_submit(&io->rq);
	if (ret) {
		if (b->write)
			pcache_write_done(pages, n, ret);
		else
			pcache_read_done(pages, n, ret);
		return;
	}
	io->busy = true;
}

/* Completes the oldest request in flight; false when there is none. */
static bool io_complete_oldest(struct ukfs_io_batch *b)
{
	for (unsigned int k = 0; k < UKFS_IO_DEPTH; k++) {
		struct ukfs_io *io = &b->io[(b->next + k) % UKFS_IO_DEPTH];

		if (io->busy) {
			io_complete(b, io);
			return true;
		}
	}
	return false;
}

/* Completes every request in flight, oldest first. */
static void io_finish(struct ukfs_io_batch *b)
{
	for (unsigned int k = 0; k < UKFS_IO_DEPTH; k++)
		io_complete(b, &b->io[(b->next + k) % UKFS_IO_DEPTH]);
}

static struct ukfs_io_batch *io_batch_new(struct ukfs_sb_info *s,
					  struct ukfs_inode_info *ui,
					  bool write)
{
	struct ukfs_io_batch *b = malloc(sizeof(*b));

	if (!b)
		return NULL;
	b->s = s;
	b->ui = ui;
	b->write = write;
	b->next = 0;
	for (unsigned int k = 0; k < UKFS_IO_DEPTH; k++)
		b->io[k].busy = false;
	return b;
}

/*
 * Starts filling n pages from the block map: mapped runs become requests
 * in b (which may wait for older ones to make room), holes and unwritten
 * extents are zero-filled and completed at once.
 */
static void read_pages_start(struct ukfs_io_batch *b, struct pcache_mapping *m,
			     struct pcache_page **pages, unsigned int n)
{
	struct ukfs_inode_info *ui = pcache_mapping_priv(m);
	unsigned int i = 0;

	while (i < n) {
		struct ukfs_extent e;
		unsigned int len, j;
		int ret;

		ret = ukfs_extent_map(b->s->meta, ui->vfs.i_ino,
				      pages[i]->index, n - i, &e);
		if (ret) {
			pcache_read_done(pages + i, n - i, ret);
			break;
		}
		len = (unsigned int)e.len;
		if (e.flags & (UKFS_EXT_HOLE | UKFS_EXT_UNWRITTEN)) {
			for (j = 0; j < len; j++)
				memset(pages[i + j]->data, 0, PCACHE_PAGE_SIZE);
			pcache_read_done(pages + i, len, 0);
		} else {
			for (j = 0; j < len; j += UKFS_IO_CHUNK) {
				unsigned int c = len - j < UKFS_IO_CHUNK
							 ? len - j
							 : UKFS_IO_CHUNK;

				io_start(b, pages + i + j, c, e.pblk + j, NULL,
					 false);
			}
		}
		i += len;
	}
}

/* read_pages_start, then waits: every page is completed on return. */
static int read_pages_sync(struct pcache_mapping *m, struct pcache_page **pages,
			   unsigned int n)
{
	struct ukfs_inode_info *ui = pcache_mapping_priv(m);
	struct ukfs_io_batch *b = io_batch_new(SBI(ui), NULL, false);

	if (!b)
		return -ENOMEM;
	bdev_plug();
	read_pages_start(b, m, pages, n);
	bdev_unplug();
	io_finish(b);
	free(b);
	return 0;
}

/*
 * Async readahead. Why: profiling the cold 1 GiB read showed the disk idle
 * while the reader copied each 4 MiB window, because the window after it
 * was read only when the reader hit its PG_READAHEAD marker, and then
 * synchronously in the reader's thread. Linux issues that window and goes
 * on. Here a run whose pages are all speculative (PG_RA: the async window
 * the marker started) is queued to one thread per super block, which
 * starts its requests and completes the pages; the reader copies what it
 * has and sleeps on a page's lock only if it catches up. Runs with a page
 * someone asked for are read at once in the caller, so a demand read
 * never pays for a wake-up of another thread.
 *
 * The thread keeps its requests in flight across runs: it starts each
 * queued run as soon as it sees it (waiting only for a free slot), and
 * reaps the oldest request only when no run is waiting. It used to read
 * each run as read_pages_sync does, which let the disk queue drain to
 * zero at the end of every window before the next one started (2026-11-25,
 * docs/ukfs.md). The page cache allows completion from any thread; a
 * mapping is not freed before its pages are completed (io_pages), and the
 * job's last touch of the inode is that completion.
 */
struct ukfs_ra_job {
	struct ukfs_ra_job *next;
	struct pcache_mapping *m;
	unsigned int n;
	struct pcache_page *pages[];
};

static void *ra_thread(void *arg)
{
	struct ukfs_sb_info *s = arg;
	struct ukfs_io_batch *b = io_batch_new(s, NULL, false);
	bool busy = false; /* requests may be in flight in b */

	pthread_mutex_lock(&s->ra_lock);
	for (;;) {
		struct ukfs_ra_job *j = s->ra_head;

		if (!j) {
			if (busy) {
				/* nothing new: reap the oldest, look again */
				pthread_mutex_unlock(&s->ra_lock);
				busy = io_complete_oldest(b);
				pthread_mutex_lock(&s->ra_lock);
				continue;
			}
			if (s->ra_stop)
				break;
			pthread_cond_wait(&s->ra_cond, &s->ra_lock);
			continue;
		}
		s->ra_head = j->next;
		if (!s->ra_head)
			s->ra_tail = NULL;
		pthread_mutex_unlock(&s->ra_lock);
		if (b) {
			bdev_plug();
			read_pages_start(b, j->m, j->pages, j->n);
			bdev_unplug();
			busy = true;
		} else {
			read_pages_sync(j->m, j->pages, j->n);
		}
		free(j);
		pthread_mutex_lock(&s->ra_lock);
	}
	pthread_mutex_unlock(&s->ra_lock);
	free(b);
	return NULL;
}

/* Queues a speculative run; false when it must be read in the caller. */
static bool ra_queue(struct ukfs_sb_info *s, struct pcache_mapping *m,
		     struct pcache_page **pages, unsigned int n)
{
	struct ukfs_ra_job *j = malloc(sizeof(*j) + n * sizeof(*pages));
	bool ok = false;

	if (!j)
		return false;
	j->next = NULL;
	j->m = m;
	j->n = n;
	memcpy(j->pages, pages, n * sizeof(*pages));
	pthread_mutex_lock(&s->ra_lock);
	if (!s->ra_started && !s->ra_stop &&
	    !pthread_create(&s->ra_thread, NULL, ra_thread, s))
		s->ra_started = true;
	if (s->ra_started && !s->ra_stop) {
		if (s->ra_tail)
			s->ra_tail->next = j;
		else
			s->ra_head = j;
		s->ra_tail = j;
		pthread_cond_signal(&s->ra_cond);
		ok = true;
	}
	pthread_mutex_unlock(&s->ra_lock);
	if (!ok)
		free(j);
	return ok;
}

void ukfs_ra_stop(struct ukfs_sb_info *s)
{
	bool started;

	pthread_mutex_lock(&s->ra_lock);
	s->ra_stop = true;
	started = s->ra_started;
	pthread_cond_signal(&s->ra_cond);
	pthread_mutex_unlock(&s->ra_lock);
	if (started)
		pthread_join(s->ra_thread, NULL);
}

static int ukfs_read_pages(struct pcache_mapping *m, struct pcache_page **pages,
			   unsigned int n)
{
	struct ukfs_inode_info *ui = pcache_mapping_priv(m);

	/* do_readahead marks every page from ra_from on: the first says */
	if ((atomic_load(&pages[0]->flags) & PG_RA) &&
	    ra_queue(SBI(ui), m, pages, n))
		return 0;
	return read_pages_sync(m, pages, n);
}

/* Writes the row's size if it is behind size (wb_mutex held). */
/*
 * st_blocks for a write of [start, end) into the cache: the blocks past
 * rsv_end it covers are reserved (fs_ukfs.h). Caller holds vfs.i_lock.
 */
static void rsv_write_locked(struct ukfs_inode_info *ui, uint64_t start,
			     uint64_t end)
{
	uint64_t b0 = start / UKFS_BLOCK_SIZE;
	uint64_t b1 = (end + UKFS_BLOCK_SIZE - 1) / UKFS_BLOCK_SIZE;

	if (ui->rsv_end == UINT64_MAX || end <= ui->rsv_end)
		return;
	if (b0 < ui->rsv_end / UKFS_BLOCK_SIZE)
		b0 = ui->rsv_end / UKFS_BLOCK_SIZE;
	ui->rsv_blocks += b1 - b0;
	ui->vfs.i_blocks += (b1 - b0) * (UKFS_BLOCK_SIZE / 512);
	ui->rsv_end = b1 * UKFS_BLOCK_SIZE;
}

/* st_blocks after n blocks were allocated for a hole (any caller). */
static void rsv_allocated(struct ukfs_inode_info *ui, uint64_t n)
{
	uint64_t from_rsv;

	pthread_mutex_lock(&ui->vfs.i_lock);
	from_rsv = ui->rsv_blocks < n ? ui->rsv_blocks : n;
	ui->rsv_blocks -= from_rsv;
	ui->vfs.i_blocks += (n - from_rsv) * (UKFS_BLOCK_SIZE / 512);
	pthread_mutex_unlock(&ui->vfs.i_lock);
}

int ukfs_update_disk_size(struct ukfs_inode_info *ui, uint64_t size)
{
	struct ukfs_inode r = { .ino = ui->vfs.i_ino, .size = size };
	int ret;

	if (size <= ui->disk_size)
		return 0;
	ret = ukfs_inode_update(SBI(ui)->meta, &r, UKFS_SET_SIZE);
	if (!ret)
		ui->disk_size = size;
	return ret;
}

/*
 * Writes a run back, with wb_mutex held throughout (see fs_ukfs.h): the
 * row's size first (up to the run's end, within i_size), then per extent:
 * allocate the holes near the file's previous block (delayed allocation,
 * the whole hole at once), start the extent's requests (up to
 * UKFS_IO_DEPTH in flight), and mark unwritten extents written as their
 * requests complete. Every request is reaped before wb_mutex is released,
 * so every block mapped holds its data by then and the pre-commit hook
 * only has to flush. A page that cannot get a block completes with
 * -ENOSPC (fsync reports it through errseq).
 */
static int ukfs_write_pages(struct pcache_mapping *m,
			    struct pcache_page **pages, unsigned int n,
			    bool sync)
{
	struct ukfs_inode_info *ui = pcache_mapping_priv(m);
	struct ukfs_sb_info *s = SBI(ui);
	uint64_t first = pages[0]->index, end, isize;
	struct ukfs_io_batch *b;
	unsigned int i = 0;
	int ret;

	if (s->rdonly) {
		pcache_write_done(pages, n, -EROFS);
		return 0;
	}
	b = io_batch_new(s, ui, true);
	if (!b)
		return -ENOMEM;
	pthread_mutex_lock(&s->wb_mutex);
	pthread_mutex_lock(&ui->vfs.i_lock);
	isize = (uint64_t)ui->vfs.i_size;
	pthread_mutex_unlock(&ui->vfs.i_lock);
	end = (first + n) << PCACHE_PAGE_SHIFT;
	if (end > isize)
		end = isize;
	ret = ukfs_update_disk_size(ui, end);
	if (ret) {
		pcache_write_done(pages, n, ret);
		goto out_unlock;
	}
	bdev_plug();
	while (i < n) {
		struct ukfs_extent e;
		unsigned int len, j;
		bool convert;

		ret = ukfs_extent_map(s->meta, ui->vfs.i_ino, first + i, n - i,
				      &e);
		if (!ret && (e.flags & UKFS_EXT_HOLE)) {
			ret = ukfs_alloc_extent(s->meta, ui->vfs.i_ino,
						first + i, e.len, 0, &e);
			if (!ret)
				rsv_allocated(ui, e.len);
		}
		if (ret) {
			pcache_write_done(pages + i, n - i, ret);
			break;
		}
		len = (unsigned int)e.len;
		convert = e.flags & (UKFS_EXT_UNWRITTEN | UKFS_EXT_KEEP_SIZE);
		for (j = 0; j < len; j += UKFS_IO_CHUNK) {
			unsigned int c = len - j < UKFS_IO_CHUNK ? len - j
								 : UKFS_IO_CHUNK;
			struct ukfs_extent part = {
				.lblk = e.lblk + j,
				.pblk = e.pblk + j,
				.len = c,
				.flags = e.flags,
			};

			io_start(b, pages + i + j, c, part.pblk, &part,
				 convert);
		}
		i += len;
	}
	bdev_unplug();
	io_finish(b);
out_unlock:
	pthread_mutex_unlock(&s->wb_mutex);
	free(b);
	return 0;
}

const struct pcache_mapping_ops ukfs_aops = {
	.read_pages = ukfs_read_pages,
	.write_pages = ukfs_write_pages,
};

/* ---- file ops ---------------------------------------------------------- */

static size_t copy_zero(void *ctx, size_t off, void *kbuf, size_t n)
{
	memset(kbuf, 0, n);
	return n;
}

static int ukfs_open(struct vfs_inode *inode, struct vfs_file *f)
{
	struct ukfs_file *uf = calloc(1, sizeof(*uf));

	if (!uf)
		return -ENOMEM;
	pthread_mutex_init(&uf->ra_lock, NULL);
	pcache_ra_init(&uf->ra);
	uf->errseq = pcache_errseq_sample(UKI(inode)->mapping);
	f->private_data = uf;
	return 0;
}

static void ukfs_release(struct vfs_inode *inode, struct vfs_file *f)
{
	struct ukfs_file *uf = f->private_data;

	if (!uf)
		return;
	pthread_mutex_destroy(&uf->ra_lock);
	free(uf);
	f->private_data = NULL;
}

/* ---- O_DIRECT ---------------------------------------------------------- */

/*
 * O_DIRECT alignment, as Linux checks it: the file offset and the length
 * must be multiples of the logical block size (the ukfs block, 4 KiB: the
 * image behaves as a 4Kn disk), the memory of each segment a multiple of
 * 512 bytes. -EINVAL otherwise.
 */
#define UKFS_DIO_MEM_ALIGN 512u
#define UKFS_DIO_CHUNK (1u << 20)

static bool dio_aligned(const struct vfs_iter *it, int64_t pos)
{
	if (((uint64_t)pos | it->count) & (UKFS_BLOCK_SIZE - 1))
		return false;
	for (unsigned long i = 0; i < it->nr_segs; i++) {
		uintptr_t base = (uintptr_t)it->iov[i].iov_base;
		size_t len = it->iov[i].iov_len;

		if (i == 0) {
			base += it->iov_offset;
			len -= it->iov_offset;
		}
		if ((base | len) & (UKFS_DIO_MEM_ALIGN - 1))
			return false;
	}
	return true;
}

/*
 * Reads or writes len bytes (block multiple) at pos straight between buf
 * and the device, by extents: holes and unwritten blocks read as zeros; a
 * write allocates holes (under wb_mutex, with the I/O, as writeback does)
 * and marks unwritten extents written.
 */
static int dio_blocks(struct ukfs_inode_info *ui, uint64_t pos, char *buf,
		      size_t len, bool write)
{
	struct ukfs_sb_info *s = SBI(ui);
	uint64_t lblk = pos / UKFS_BLOCK_SIZE;
	uint64_t n = len / UKFS_BLOCK_SIZE;
	int ret = 0;

	if (write)
		pthread_mutex_lock(&s->wb_mutex);
	while (n && !ret) {
		struct ukfs_extent e;

		ret = ukfs_extent_map(s->meta, ui->vfs.i_ino, lblk, n, &e);
		if (ret)
			break;
		if (write && (e.flags & UKFS_EXT_HOLE)) {
			ret = ukfs_alloc_extent(s->meta, ui->vfs.i_ino, lblk,
						e.len, 0, &e);
			if (ret)
				break;
			rsv_allocated(ui, e.len);
		}
		if (!write && (e.flags & (UKFS_EXT_HOLE | UKFS_EXT_UNWRITTEN))) {
			memset(buf, 0, e.len * UKFS_BLOCK_SIZE);
		} else if (write) {
			ret = bdev_write(s->bdev, e.pblk, (uint32_t)e.len, buf);
			if (!ret && (e.flags & (UKFS_EXT_UNWRITTEN |
						UKFS_EXT_KEEP_SIZE))) {
				e.flags = 0;
				ret = ukfs_extent_insert(s->meta,
							 ui->vfs.i_ino, &e);
			}
		} else {
			ret = bdev_read(s->bdev, e.pblk, (uint32_t)e.len, buf);
		}
		buf += e.len * UKFS_BLOCK_SIZE;
		lblk += e.len;
		n -= e.len;
	}
	if (write)
		pthread_mutex_unlock(&s->wb_mutex);
	return ret;
}

/*
 * An O_DIRECT read or write: the cached range is written back first (so
 * the device holds the newest data), the blocks move between the device
 * and an aligned bounce buffer (the caller's memory is in another
 * process), and after a write the cached pages of the range are dropped.
 * Returns bytes done or -errno; a read stops at EOF.
 */
static long ukfs_direct_io(struct vfs_file *f, struct vfs_iter *it,
			   int64_t *pos, bool write)
{
	struct vfs_inode *inode = f->f_inode;
	struct ukfs_inode_info *ui = UKI(inode);
	uint64_t p = (uint64_t)*pos;
	long done = 0;
	char *buf;
	int ret;

	if (!dio_aligned(it, *pos))
		return -EINVAL;
	if (!it->count)
		return 0;
	ret = posix_memalign((void **)&buf, UKFS_BLOCK_SIZE, UKFS_DIO_CHUNK);
	if (ret)
		return -ret;
	while (it->count) {
		size_t n = it->count < UKFS_DIO_CHUNK ? it->count
						     : UKFS_DIO_CHUNK;
		uint64_t size = (uint64_t)inode->i_size;
		long r;

		if (!write) {
			if (p >= size)
				break;
			if (n > size - p) /* the last block, whole */
				n = (size_t)(((size - p) + UKFS_BLOCK_SIZE - 1) &
					     ~(uint64_t)(UKFS_BLOCK_SIZE - 1));
		}
		ret = pcache_flush_range(ui->mapping, p, p + n - 1);
		if (ret)
			break;
		if (write) {
			r = vfs_copy_from_iter(it, buf, n);
			if (r < 0) {
				ret = (int)r;
				break;
			}
			n = (size_t)r & ~(size_t)(UKFS_BLOCK_SIZE - 1);
			if (!n)
				break;
			pthread_mutex_lock(&SBI(ui)->wb_mutex);
			ret = ukfs_update_disk_size(ui, p + n);
			pthread_mutex_unlock(&SBI(ui)->wb_mutex);
			if (!ret)
				ret = dio_blocks(ui, p, buf, n, true);
			if (ret)
				break;
			pcache_invalidate_range(ui->mapping, p, p + n - 1);
			pthread_mutex_lock(&inode->i_lock);
			if ((int64_t)(p + n) > inode->i_size)
				inode->i_size = (int64_t)(p + n);
			vfs_inode_touch_mc(inode);
			pthread_mutex_unlock(&inode->i_lock);
			r = (long)n;
		} else {
			ret = dio_blocks(ui, p, buf, n, false);
			if (ret)
				break;
			if (n > size - p)
				n = (size_t)(size - p);
			r = vfs_copy_to_iter(it, buf, n);
			if (r < 0) {
				ret = (int)r;
				break;
			}
		}
		done += r;
		p += (uint64_t)r;
		if ((size_t)r < n)
			break;
	}
	free(buf);
	*pos = (int64_t)p;
	return done ? done : ret;
}

static int ukfs_fsync(struct vfs_file *f, int64_t start, int64_t end,
		      bool datasync);

/*
 * ENOSPC at write(2), as Linux's delayed allocation reserves: when the
 * free blocks might not cover the dirty pages plus this write, write
 * everything back and commit (freed blocks become usable), then refuse the
 * write if its holes find no free block at all. Cheap when not near full
 * (two counters). Called with i_rwsem write-held.
 */
static int reserve_space(struct ukfs_inode_info *ui, uint64_t pos, size_t len)
{
	struct ukfs_sb_info *s = SBI(ui);
	uint64_t first = pos / UKFS_BLOCK_SIZE;
	uint64_t last = (pos + len + UKFS_BLOCK_SIZE - 1) / UKFS_BLOCK_SIZE;
	uint64_t holes = 0;
	struct pcache_stats ps;
	struct ukfs_statfs st;

	ukfs_meta_statfs(s->meta, &st);
	pcache_get_stats(s->pc, &ps);
	if (st.free_blocks >= ps.nr_dirty + ps.nr_writeback + (last - first))
		return 0;
	pcache_sync_all(s->pc);
	pthread_mutex_lock(&s->wb_mutex);
	ukfs_meta_commit(s->meta);
	pthread_mutex_unlock(&s->wb_mutex);
	ukfs_meta_statfs(s->meta, &st);
	for (uint64_t b = first; b < last && holes <= st.free_blocks;) {
		struct ukfs_extent e;

		if (ukfs_extent_map(s->meta, ui->vfs.i_ino, b, last - b, &e))
			break;
		if (e.flags & UKFS_EXT_HOLE)
			holes += e.len;
		b += e.len;
	}
	return holes && !st.free_blocks ? -ENOSPC : 0;
}


/* read_iter (i_rwsem read-held): through the page cache. */
static long ukfs_read_iter(struct vfs_file *f, struct vfs_iter *to,
			   int64_t *pos)
{
	struct ukfs_inode_info *ui = UKI(f->f_inode);
	struct ukfs_file *uf = f->private_data;
	struct vfs_iter_at at = vfs_iter_at(to);
	int64_t size;
	ssize_t r;

	if (atomic_load(&f->f_flags) & O_DIRECT)
		return ukfs_direct_io(f, to, pos, false);
	pthread_mutex_lock(&f->f_inode->i_lock);
	size = f->f_inode->i_size;
	pthread_mutex_unlock(&f->f_inode->i_lock);
	if (*pos >= size || !to->count)
		return 0;
	pthread_mutex_lock(&uf->ra_lock);
	r = pcache_read(ui->mapping, &uf->ra, (uint64_t)*pos, to->count,
			(uint64_t)size, vfs_iter_at_copy_to, &at);
	pthread_mutex_unlock(&uf->ra_lock);
	if (r > 0)
		*pos += r;
	return r;
}

/*
 * write_iter (i_rwsem write-held): into the page cache; extends i_size,
 * updates mtime/ctime in core and in the row. Blocks are allocated at
 * writeback.
 */
static long ukfs_write_iter(struct vfs_file *f, struct vfs_iter *from,
			    int64_t *pos)
{
	struct vfs_inode *inode = f->f_inode;
	struct ukfs_inode_info *ui = UKI(inode);
	struct ukfs_sb_info *s = UKSB(inode->i_sb);
	struct vfs_iter_at at;
	ssize_t n;

	if (s->rdonly)
		return -EROFS;
	if (!from->count)
		return 0;
	if (atomic_load(&f->f_flags) & O_DIRECT) {
		n = ukfs_direct_io(f, from, pos, true);
		if (n > 0)
			ukfs_attrs_dirty(inode, UKFS_SET_MTIME | UKFS_SET_CTIME);
		goto out_sync;
	}
	n = reserve_space(ui, (uint64_t)*pos, from->count);
	if (n)
		return n;
	at = vfs_iter_at(from);
	n = pcache_write(ui->mapping, (uint64_t)*pos, from->count,
			 (uint64_t)inode->i_size, vfs_iter_at_copy_from, &at);
	if (n <= 0)
		return n;
	*pos += n;
	pthread_mutex_lock(&inode->i_lock);
	if (*pos > inode->i_size)
		inode->i_size = *pos;
	rsv_write_locked(ui, (uint64_t)(*pos - n), (uint64_t)*pos);
	vfs_inode_touch_mc(inode);
	pthread_mutex_unlock(&inode->i_lock);
	ukfs_attrs_dirty(inode, UKFS_SET_MTIME | UKFS_SET_CTIME);
out_sync:
	/* O_SYNC / O_DSYNC: the write is durable when it returns. */
	if (n > 0 && (atomic_load(&f->f_flags) & (O_SYNC | O_DSYNC))) {
		int ret = ukfs_fsync(f, *pos - n, *pos - 1, true);

		if (ret)
			return ret;
	}
	ukfs_maybe_commit(s);
	return n;
}

/*
 * fsync/fdatasync: the file's pages written and waited for (errors once
 * per open file), then the commit (whose hook flushes the data first),
 * then a device flush.
 */
static int ukfs_fsync(struct vfs_file *f, int64_t start, int64_t end,
		      bool datasync)
{
	struct ukfs_inode_info *ui = UKI(f->f_inode);
	struct ukfs_sb_info *s = SBI(ui);
	struct ukfs_file *uf = f->private_data;
	int ret, ret2;

	if (s->rdonly)
		return 0;
	ret = pcache_fsync(ui->mapping, (uint64_t)start,
			   end < 0 ? UINT64_MAX : (uint64_t)end, &uf->errseq);
	pthread_mutex_lock(&s->wb_mutex);
	pthread_mutex_lock(&f->f_inode->i_lock);
	ret2 = ukfs_update_disk_size(ui, (uint64_t)f->f_inode->i_size);
	pthread_mutex_unlock(&f->f_inode->i_lock);
	if (!ret2)
		ret2 = ukfs_flush_attrs(s);
	if (!ret2)
		ret2 = ukfs_meta_commit(s->meta);
	pthread_mutex_unlock(&s->wb_mutex);
	if (!ret)
		ret = ret2;
	ret2 = bdev_flush(s->bdev);
	return ret ? ret : ret2;
}

const struct vfs_file_ops ukfs_file_fops = {
	.read_iter = ukfs_read_iter,
	.write_iter = ukfs_write_iter,
	.fsync = ukfs_fsync,
	.open = ukfs_open,
	.release = ukfs_release,
};

/* ---- size and space ---------------------------------------------------- */

static int zero_range(struct ukfs_inode_info *ui, uint64_t start,
		      uint64_t end);

/*
 * Truncate to size (i_rwsem write-held): cache, then the block map. When
 * shrinking to the middle of a block, the rest of that block is zeroed
 * through the cache first (block_truncate_page), so a later extension
 * reads zeros there even if the page was not cached.
 */
int ukfs_file_setsize(struct vfs_inode *inode, int64_t size)
{
	struct ukfs_inode_info *ui = UKI(inode);
	struct ukfs_sb_info *s = SBI(ui);
	uint64_t tail = ((uint64_t)size + UKFS_BLOCK_SIZE - 1) &
			~(uint64_t)(UKFS_BLOCK_SIZE - 1);
	struct ukfs_inode r;
	int ret;

	if (size < inode->i_size && ((uint64_t)size & (UKFS_BLOCK_SIZE - 1))) {
		ret = zero_range(ui, (uint64_t)size,
				 tail < (uint64_t)inode->i_size
					 ? tail
					 : (uint64_t)inode->i_size);
		if (ret)
			return ret;
	}
	if (ui->mapping)
		pcache_truncate(ui->mapping, (uint64_t)size);
	pthread_mutex_lock(&s->wb_mutex);
	ret = ukfs_truncate(s->meta, inode->i_ino, (uint64_t)size);
	if (!ret)
		ui->disk_size = (uint64_t)size;
	pthread_mutex_unlock(&s->wb_mutex);
	if (ret)
		return ret;
	pthread_mutex_lock(&inode->i_lock);
	inode->i_size = size;
	if (!ukfs_inode_get(s->meta, inode->i_ino, &r))
		ukfs_rsv_reset(ui, r.blocks);
	vfs_inode_touch_mc(inode);
	pthread_mutex_unlock(&inode->i_lock);
	return 0;
}

/*
 * Whether block lblk is a hole with no data in the cache. A cached page
 * over a hole may be dirty (delayed allocation), so it is written back
 * first and the block map asked again. On any error the answer is no: the
 * caller then zeroes through the cache, as it always did.
 */
static bool block_is_hole(struct ukfs_inode_info *ui, uint64_t lblk)
{
	struct ukfs_meta *meta = SBI(ui)->meta;
	uint64_t ino = ui->vfs.i_ino;
	struct ukfs_extent e;

	if (ukfs_extent_map(meta, ino, lblk, 1, &e) ||
	    !(e.flags & UKFS_EXT_HOLE))
		return false;
	if (!pcache_present(ui->mapping, lblk))
		return true;
	if (pcache_writeback_range(ui->mapping, lblk * UKFS_BLOCK_SIZE,
				   (lblk + 1) * UKFS_BLOCK_SIZE - 1, true) ||
	    ukfs_extent_map(meta, ino, lblk, 1, &e))
		return false;
	return e.flags & UKFS_EXT_HOLE;
}

/*
 * Zeroes [start, end) of the file through the cache (the partial blocks of
 * truncate and punch hole). A block that is a hole is left alone, as
 * ext4's __ext4_block_zero_page_range does for an unmapped buffer: it
 * reads as zeros already, and zeroing it through the cache would dirty a
 * page and allocate the block at writeback, turning a hole into data
 * (SEEK_HOLE and st_blocks would then disagree with Linux; the
 * differential test's seed 24 found it: a punch inside a hole).
 */
static int zero_range(struct ukfs_inode_info *ui, uint64_t start, uint64_t end)
{
	while (start < end) {
		uint64_t lblk = start / UKFS_BLOCK_SIZE;
		uint64_t bend = (lblk + 1) * UKFS_BLOCK_SIZE;
		uint64_t e = end < bend ? end : bend;
		ssize_t r;

		if (!block_is_hole(ui, lblk)) {
			r = pcache_write(ui->mapping, start, (size_t)(e - start),
					 (uint64_t)ui->vfs.i_size, copy_zero,
					 NULL);
			if (r < 0)
				return (int)r;
		}
		start = e;
	}
	return 0;
}

/*
 * fallocate (i_rwsem write-held, checked by the VFS): mode 0 / KEEP_SIZE
 * allocate unwritten extents over the holes (KEEP_SIZE past EOF); mode 0
 * extends the size. PUNCH_HOLE zeroes the partial edge blocks through the
 * cache, drops the cached pages and frees the whole blocks.
 */
long ukfs_vfs_fallocate(struct vfs_inode *inode, int mode, int64_t offset,
		    int64_t len)
{
	struct ukfs_inode_info *ui = UKI(inode);
	struct ukfs_sb_info *s = SBI(ui);
	uint64_t start = (uint64_t)offset, end = start + (uint64_t)len;
	uint64_t size = (uint64_t)inode->i_size;
	uint64_t lblk, last;
	struct ukfs_inode r;
	int ret = 0;

	if (s->rdonly)
		return -EROFS;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		uint64_t b0 = (start + UKFS_BLOCK_SIZE - 1) / UKFS_BLOCK_SIZE;
		uint64_t b1 = end / UKFS_BLOCK_SIZE;
		uint64_t zend = end < size ? end : size;

		if (b0 > b1) {
			ret = zero_range(ui, start, zend);
		} else {
			ret = zero_range(ui, start,
					 b0 * UKFS_BLOCK_SIZE < zend
						 ? b0 * UKFS_BLOCK_SIZE
						 : zend);
			if (!ret && b1 * UKFS_BLOCK_SIZE < zend)
				ret = zero_range(ui, b1 * UKFS_BLOCK_SIZE,
						 zend);
			if (!ret && b1 > b0) {
				pcache_punch_range(ui->mapping,
						   b0 * UKFS_BLOCK_SIZE,
						   b1 * UKFS_BLOCK_SIZE);
				pthread_mutex_lock(&s->wb_mutex);
				/* the dropped pages may have held the size */
				ret = ukfs_update_disk_size(ui, size);
				if (!ret)
					ret = ukfs_extent_punch(
						s->meta, inode->i_ino, b0,
						b1 - b0, NULL);
				pthread_mutex_unlock(&s->wb_mutex);
			}
		}
		goto out_attrs;
	}
	pthread_mutex_lock(&s->wb_mutex);
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size) {
		ret = ukfs_update_disk_size(ui, end);
		if (!ret) {
			pthread_mutex_lock(&inode->i_lock);
			inode->i_size = (int64_t)end;
			pthread_mutex_unlock(&inode->i_lock);
			size = end;
		}
	}
	lblk = start / UKFS_BLOCK_SIZE;
	last = (end + UKFS_BLOCK_SIZE - 1) / UKFS_BLOCK_SIZE;
	while (!ret && lblk < last) {
		uint64_t eof_blk = (size + UKFS_BLOCK_SIZE - 1) /
				   UKFS_BLOCK_SIZE;
		uint64_t lim = last;
		uint32_t flags = UKFS_EXT_UNWRITTEN;
		struct ukfs_extent e;

		if (lblk < eof_blk && eof_blk < lim)
			lim = eof_blk;
		if (lblk >= eof_blk)
			flags |= UKFS_EXT_KEEP_SIZE;
		ret = ukfs_extent_map(s->meta, inode->i_ino, lblk, lim - lblk,
				      &e);
		if (ret)
			break;
		if (e.flags & UKFS_EXT_HOLE)
			ret = ukfs_alloc_extent(s->meta, inode->i_ino, lblk,
						e.len, flags, &e);
		lblk += e.len;
	}
	pthread_mutex_unlock(&s->wb_mutex);
out_attrs:
	pthread_mutex_lock(&inode->i_lock);
	if (!ukfs_inode_get(s->meta, inode->i_ino, &r))
		ukfs_rsv_reset(ui, r.blocks);
	vfs_inode_touch_mc(inode);
	pthread_mutex_unlock(&inode->i_lock);
	ukfs_maybe_commit(s);
	return ret;
}

/*
 * SEEK_DATA/SEEK_HOLE (i_rwsem read-held): the dirty pages are written
 * back first, so the block map alone answers (delayed allocation would
 * otherwise hide data that is only in the cache).
 */
int64_t ukfs_vfs_seek_data_hole(struct vfs_inode *inode, int64_t offset,
			    int whence)
{
	struct ukfs_inode_info *ui = UKI(inode);
	int64_t size = inode->i_size, res;
	int ret;

	if (offset >= size)
		return -ENXIO;
	ret = pcache_writeback_range(ui->mapping, 0, UINT64_MAX, true);
	if (ret)
		return ret;
	pthread_mutex_lock(&SBI(ui)->wb_mutex);
	ret = ukfs_update_disk_size(ui, (uint64_t)size);
	pthread_mutex_unlock(&SBI(ui)->wb_mutex);
	if (ret)
		return ret;
	ret = ukfs_seek_data_hole(SBI(ui)->meta, inode->i_ino, offset, whence,
				  &res);
	if (ret)
		return ret;
	return res > size ? size : res;
}
